"""What both services share: image decoding and encoding, the JSON error contract, settings."""
