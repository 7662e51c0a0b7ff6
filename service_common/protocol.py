"""What a client and the services agree on: their default ports and the header that carries an
API key. Imports nothing, so a client reads it without loading the services."""

SEGMENTATION_PORT = 3000
MATTING_PORT = 5000
API_KEY_HEADER = "X-Api-Key"
