"""A remove.bg-compatible ``POST /v1.0/removebg`` on the matting service (see README)."""
