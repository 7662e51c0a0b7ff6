"""Hostile and broken uploads, made here, for the corpus and fuzz tests, and a raw HTTP request
to send what a client library would not."""

from __future__ import annotations

import io
import json
import socket
import struct
import zlib

import numpy as np
from PIL import Image


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def plain_scene(width: int = 96, height: int = 72) -> Image.Image:
    """A small picture with nobody in it."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 2] = np.linspace(60, 220, width, dtype=np.uint8)
    pixels[..., 1] = 90
    return Image.fromarray(pixels)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height, with almost no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b""))


def png_bomb(side: int = 9000) -> bytes:
    """A real, complete grayscale PNG of side×side zeros: tiny on disk, huge decoded."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data)
            + _chunk(b"IEND", b""))


def sixteen_bit_png() -> bytes:
    return encoded(Image.fromarray(np.full((40, 50), 30_000, np.uint16)), "PNG")


def cmyk_jpeg() -> bytes:
    return encoded(plain_scene().convert("CMYK"), "JPEG")


def animated_gif() -> bytes:
    frames = [plain_scene(), Image.new("RGB", (96, 72), (200, 10, 10))]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def multipart(parts: list[tuple[bytes, bytes | None, bytes]],
              boundary: bytes = b"hostileboundary") -> tuple[bytes, str]:
    """A hand-built multipart body from (name, filename or None, content) triples; names and
    filenames are raw bytes, so they can be anything."""
    body = b""
    for name, filename, content in parts:
        disposition = b'form-data; name="' + name + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disposition + b"\r\n\r\n"
        body += content + b"\r\n"
    body += b"--" + boundary + b"--\r\n"
    return body, "multipart/form-data; boundary=" + boundary.decode()


def raw_request(port: int, head: str, body: bytes, timeout: float = 30) -> tuple[int, dict]:
    """Send bytes as they are to 127.0.0.1:``port``; the answer's status and JSON body
    (``TimeoutError`` when none comes within ``timeout`` seconds)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) == 0:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head_bytes, _, rest = answer.partition(b"\r\n\r\n")
    status = int(head_bytes.split()[1])
    return status, json.loads(rest[rest.index(b"{"):rest.rindex(b"}") + 1])
