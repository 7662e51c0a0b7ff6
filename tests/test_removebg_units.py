"""remove.bg's options and output geometry, as pure functions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from background_replacement.matting_api.removebg.geometry import (
    Box,
    GeometryError,
    Length,
    Margins,
    capped_size,
    foreground_box,
    layout,
    margin_pixels,
    roi_box,
)
from background_replacement.matting_api.removebg.options import (
    SIZES,
    parse_bg_color,
    parse_margins,
    parse_options,
    parse_position,
    parse_roi,
    parse_scale,
)
from background_replacement.matting_api.removebg.render import (
    RemoveBgResult,
    encode_result,
    output_format,
    over,
)
from background_replacement.service_common.errors import ApiError

px, pc = (lambda v: Length(float(v), "px")), (lambda v: Length(float(v), "%"))


@given(st.integers(1, 20000), st.integers(1, 20000),
       st.sampled_from([v for v in SIZES.values() if v is not None]))
@example(10001, 25, 0.25)  # found by hypothesis: flooring each side bent the aspect by 4 %
def test_capped_size_keeps_the_aspect_and_the_cap(width, height, megapixels):
    w, h = capped_size(width, height, megapixels * 1e6)
    assert w <= width and h <= height
    assert w * h <= max(megapixels * 1e6, 1) or (w == 1 or h == 1)
    if width * height > megapixels * 1e6 and min(w, h) > 10:
        assert abs(w / h - width / height) < 0.02 * width / height + 1 / min(w, h)
    assert capped_size(width, height, None) == (width, height)


def test_preview_is_a_quarter_megapixel():
    w, h = capped_size(4000, 3000, SIZES["preview"] * 1e6)
    assert 0.249e6 < w * h <= 0.25e6 and (w, h) == (577, 433)


def test_roi_in_pixels_and_percent():
    assert roi_box((px(10), px(20), px(110), pc(50)), 200, 100) == Box(10, 20, 100, 30)
    assert roi_box((pc(0), pc(0), pc(100), pc(100)), 640, 480) == Box(0, 0, 640, 480)
    # Pixel lengths refer to the upload: halved with the image.
    assert roi_box((px(100), px(0), px(300), px(200)), 200, 100, 0.5) == Box(50, 0, 100, 100)
    with pytest.raises(GeometryError) as outside:
        roi_box((px(0), px(0), px(201), px(10)), 200, 100)
    assert outside.value.code == "roi_exceeds_bounds"
    with pytest.raises(GeometryError) as empty:
        roi_box((px(50), px(10), px(50), px(20)), 200, 100)
    assert empty.value.code == "roi_region_empty"


def test_foreground_box():
    alpha = np.zeros((50, 80), np.uint8)
    assert foreground_box(alpha) is None
    alpha[10:21, 30:35] = 1
    alpha[40, 70] = 200
    assert foreground_box(alpha) == Box(30, 10, 41, 31)


def test_margins_in_pixels_and_percent_of_the_subject():
    subject = Box(5, 5, 200, 100)
    margins = Margins(pc(10), px(7), pc(50), pc(25))
    assert margin_pixels(margins, subject) == (10, 7, 50, 50)


def test_crop_puts_the_subject_inside_its_margins():
    subject = Box(40, 30, 100, 60)
    plan = layout(400, 300, subject, crop=True, margins=Margins(px(1), px(2), px(3), px(4)))
    assert (plan.width, plan.height) == (106, 64)
    assert plan.subject == Box(4, 1, 100, 60)
    assert layout(400, 300, subject, crop=True).subject == Box(0, 0, 100, 60)
    assert layout(400, 300, subject, crop=False) == (400, 300, subject)


def test_scale_fits_the_subject_and_centres_it():
    plan = layout(400, 300, Box(0, 0, 100, 50), crop=False, scale=0.5)
    assert plan.subject == Box(100, 100, 200, 100)
    top_left = layout(400, 300, Box(0, 0, 100, 50), crop=False, scale=0.5,
                      position=(0.0, 0.0))
    assert top_left.subject == Box(0, 0, 200, 100)


def test_position_without_scale_moves_the_subject_at_its_size():
    plan = layout(400, 300, Box(10, 10, 100, 50), crop=False, position=(1.0, 0.5))
    assert plan.subject == Box(300, 125, 100, 50)


@given(st.integers(1, 500), st.integers(1, 500), st.data())
def test_layout_always_keeps_the_subject_on_the_canvas(width, height, data):
    left = data.draw(st.integers(0, width - 1))
    top = data.draw(st.integers(0, height - 1))
    subject = Box(left, top, data.draw(st.integers(1, width - left)),
                  data.draw(st.integers(1, height - top)))
    margin = data.draw(st.sampled_from([px(0), px(30), pc(10), pc(50)]))
    scale = data.draw(st.one_of(st.none(), st.floats(0.1, 1.0)))
    position = data.draw(st.one_of(st.none(), st.tuples(st.floats(0, 1), st.floats(0, 1))))
    crop = data.draw(st.booleans())
    plan = layout(width, height, subject, crop=crop, margins=Margins(*(margin,) * 4),
                  scale=scale, position=position)
    box = plan.subject
    assert box.left >= 0 and box.top >= 0 and box.width >= 1 and box.height >= 1
    assert box.left + box.width <= plan.width and box.top + box.height <= plan.height
    if scale is None:
        assert (box.width, box.height) == (subject.width, subject.height)


def test_colours_as_remove_bg_accepts_them():
    assert parse_bg_color("81d4fa") == (0x81, 0xD4, 0xFA, 255)
    assert parse_bg_color("#fff") == (255, 255, 255, 255)
    assert parse_bg_color("f008") == (255, 0, 0, 0x88)
    assert parse_bg_color("81d4fa77") == (0x81, 0xD4, 0xFA, 0x77)
    assert parse_bg_color("green") == (0, 128, 0, 255)
    assert parse_bg_color("White") == (255, 255, 255, 255)
    for bad in ("12345", "#ggg", "notacolour", "rgb(1,2,3)", ""):
        with pytest.raises(ValueError):
            parse_bg_color(bad)


def test_margins_scale_position_and_roi_texts():
    assert parse_margins("30px") == Margins(*(px(30),) * 4)
    assert parse_margins("10% 20px") == Margins(pc(10), px(20), pc(10), px(20))
    assert parse_margins("1px 2px 3px 4%") == Margins(px(1), px(2), px(3), pc(4))
    for bad in ("501px", "51%", "1px 2px 3px", "-3px", "ten"):
        with pytest.raises(ValueError):
            parse_margins(bad)
    assert parse_scale("original") is None and parse_scale("50%") == 0.5
    for bad in ("9%", "101%", "50", "big"):
        with pytest.raises(ValueError):
            parse_scale(bad)
    assert parse_position("original") is None and parse_position("center") == (0.5, 0.5)
    assert parse_position("0%") == (0.0, 0.0) and parse_position("100% 25%") == (1.0, 0.25)
    for bad in ("101%", "left", "1% 2% 3%"):
        with pytest.raises(ValueError):
            parse_position(bad)
    assert parse_roi("0% 0% 100% 50px") == (pc(0), pc(0), pc(100), px(50))
    with pytest.raises(ValueError):
        parse_roi("0 0 10")


@pytest.mark.parametrize(("fields", "code"), [
    ({"image_url": "https://example.com/a.jpg"}, "image_url_not_supported"),
    ({"bg_image_url": "https://example.com/b.jpg"}, "bg_image_url_not_supported"),
    ({"type": "car"}, "unsupported_type"),
    ({"type": "product"}, "unsupported_type"),
    ({"type": "spaceship"}, "invalid_type"),
    ({"size": "huge"}, "invalid_size"),
    ({"format": "gif"}, "invalid_format"),
    ({"channels": "rgb"}, "invalid_channels"),
    ({"bg_color": "nope-colour"}, "invalid_bg_color"),
    ({"crop": "maybe"}, "invalid_crop"),
    ({"crop_margin": "600px"}, "invalid_crop_margin"),
    ({"scale": "5%"}, "invalid_scale"),
    ({"position": "top"}, "invalid_position"),
    ({"roi": "1 2 3"}, "invalid_roi"),
    ({"semitransparency": "perhaps"}, "invalid_semitransparency"),
    ({"add_shadow": "2"}, "invalid_add_shadow"),
])
def test_refusals_carry_remove_bg_codes(fields, code):
    with pytest.raises(ApiError) as refused:
        parse_options(fields)
    assert refused.value.status == 400 and refused.value.code == code


def test_defaults_and_honoured_options():
    default = parse_options({})
    assert default.max_megapixels == 0.25 and default.format == "auto" and not default.crop
    options = parse_options({"size": "50MP", "type": "person", "format": "zip",
                             "channels": "alpha", "bg_color": "fff", "crop": "true",
                             "scale": "80%", "add_shadow": "true", "semitransparency": "false"})
    assert options.max_megapixels is None and options.format == "zip"
    assert options.bg_color == (255, 255, 255, 255) and options.crop and options.scale == 0.8


def test_over_and_the_auto_format():
    foreground = np.zeros((2, 2, 4), np.uint8)
    foreground[0, 0] = (200, 100, 0, 255)
    foreground[0, 1] = (200, 100, 0, 128)
    result = over(foreground, np.array((0, 0, 255, 255), np.uint8))
    assert tuple(result[0, 0]) == (200, 100, 0, 255)
    assert tuple(result[1, 1]) == (0, 0, 255, 255)
    assert abs(int(result[0, 1, 0]) - 100) <= 1 and abs(int(result[0, 1, 2]) - 127) <= 1
    assert (result[..., 3] == 255).all()
    transparent = RemoveBgResult(foreground, foreground[..., 3], Box(0, 0, 1, 1), {})
    opaque = RemoveBgResult(result, result[..., 3], Box(0, 0, 1, 1), {})
    assert output_format(transparent, parse_options({})) == "png"
    assert output_format(opaque, parse_options({})) == "jpg"
    assert output_format(opaque, parse_options({"channels": "alpha"})) == "png"
    assert encode_result(opaque, parse_options({}))[1] == "image/jpeg"
