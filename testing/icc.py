"""A wide-gamut ICC colour profile for tests, written from its numbers: no profile file ships
with the system or the wheels, and a test photo must carry one as an iPhone's does.

The profile is an ICC v2 matrix/TRC display profile ("mntr", RGB → XYZ) with Display P3's
primaries adapted to D50 (as they appear in Apple's profile) and a gamma 2.2 tone curve, close
to Display P3 (whose curve is sRGB's) and far enough from sRGB that a saturated red stored in
it reads dozens of levels off when taken for sRGB.
"""

from __future__ import annotations

import struct

D50 = (0.9642, 1.0, 0.8249)
P3_PRIMARIES_D50 = ((0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419),
                    (0.1571, 0.0666, 0.7841))
GAMMA = 2.2


def _s15fixed16(values: tuple[float, ...]) -> bytes:
    return b"".join(struct.pack(">i", round(v * 65536)) for v in values)


def _xyz(values: tuple[float, float, float]) -> bytes:
    return b"XYZ " + bytes(4) + _s15fixed16(values)


def _curve(gamma: float) -> bytes:
    return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)


def _description(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return (b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text
            + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + bytes(67))


def _text(text: str) -> bytes:
    return b"text" + bytes(4) + text.encode("ascii") + b"\0"


def _padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def wide_gamut_profile(description: str = "Wide gamut test (P3 primaries, gamma 2.2)") -> bytes:
    """The bytes of the profile described above."""
    red, green, blue = P3_PRIMARIES_D50
    tags = [(b"desc", _description(description)), (b"wtpt", _xyz(D50)),
            (b"rXYZ", _xyz(red)), (b"gXYZ", _xyz(green)), (b"bXYZ", _xyz(blue)),
            (b"rTRC", _curve(GAMMA)), (b"gTRC", _curve(GAMMA)), (b"bTRC", _curve(GAMMA)),
            (b"cprt", _text("No copyright, test data"))]
    offset = 128 + 4 + 12 * len(tags)
    table, body = [], b""
    for signature, data in tags:
        table.append(struct.pack(">4sII", signature, offset + len(body), len(data)))
        body += _padded(data)
    size = offset + len(body)
    header = (struct.pack(">I", size) + bytes(4) + struct.pack(">I", 0x02100000) + b"mntr"
              + b"RGB " + b"XYZ " + bytes(12) + b"acsp" + bytes(4 + 4 + 4 + 4 + 8)
              + struct.pack(">I", 0) + _s15fixed16(D50) + bytes(4) + bytes(16) + bytes(28))
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(table) + body
