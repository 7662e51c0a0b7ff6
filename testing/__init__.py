"""Helpers for the tests, benchmarks and demo of this checkout: not part of the installed
package."""
