"""The named backgrounds that ship with the project: the pictures beside this file."""

from pathlib import Path

LIBRARY = Path(__file__).resolve().parent
