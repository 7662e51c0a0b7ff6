"""The background grammar: every way to write a background parses here, into an object that
draws itself behind a matte."""

import numpy as np
import pytest
from PIL import Image

from background_replacement.background import (
    BACKGROUNDS_DIR,
    DEFAULT_BACKGROUND,
    Blur,
    Colour,
    Picture,
    Transparent,
    file_named,
    load_library,
    parse_background,
    parse_colour,
)

LIBRARY = {"green": np.full((9, 16, 3), (0, 177, 64), np.uint8),
           "sky": np.full((9, 16, 3), (90, 160, 230), np.uint8)}
ALPHA = np.zeros((6, 8), np.float32)
PHOTO = np.full((6, 8, 3), 40, np.uint8)


def test_colours_in_every_spelling():
    assert parse_colour("#00b140") == (0, 177, 64)
    assert parse_colour("#fff") == (255, 255, 255)
    assert parse_colour("navy") == (0, 0, 128)
    assert parse_colour("RebeccaPurple") == (102, 51, 153)
    assert parse_colour("studio") is None  # a word, not a colour
    for bad in ("#00b14", "#gggggg", "#00b1400", "#"):
        with pytest.raises(ValueError):
            parse_colour(bad)


def test_each_kind_parses_and_draws_itself_at_the_mattes_size():
    default = parse_background(None, LIBRARY)
    assert isinstance(default, Picture) and default.label == DEFAULT_BACKGROUND
    assert default.behind(PHOTO, ALPHA).shape == (6, 8, 3)
    colour = parse_background("#102030", LIBRARY)
    assert isinstance(colour, Colour) and colour.rgb == (16, 32, 48)
    assert np.all(colour.behind(PHOTO, ALPHA) == (16, 32, 48))
    assert parse_background("navy", LIBRARY) == Colour((0, 0, 128), "navy")
    blur = parse_background("blur", LIBRARY)
    assert isinstance(blur, Blur) and blur.behind(PHOTO, ALPHA).shape == (6, 8, 3)
    transparent = parse_background("transparent", LIBRARY)
    assert isinstance(transparent, Transparent) and transparent.transparent
    with pytest.raises(TypeError):
        transparent.behind(PHOTO, ALPHA)
    assert not any(parse_background(spec, LIBRARY).transparent
                   for spec in ("green", "#000", "blur", "white"))


def test_colour_names_survive_pillows_own_lookups():
    """Pillow replaces a name's hex text by the tuple it computed once asked; the grammar must
    read the name the same before and after (remove.bg's bg_color asks Pillow first)."""
    from PIL import ImageColor

    before = parse_colour("teal")
    ImageColor.getrgb("teal")
    assert parse_colour("teal") == before == (0, 128, 128)


def test_a_named_background_wins_over_the_css_colour_of_that_name():
    assert isinstance(parse_background("green", LIBRARY), Picture)
    assert parse_background("green", {}) == Colour((0, 128, 0), "green")


def test_what_names_nothing_is_refused_with_the_choices():
    for bad in ("../green", "/etc/passwd", "GREEN/..", "#12", "nope", "beach.jpg", " "):
        with pytest.raises(ValueError):
            parse_background(bad if bad.strip() else "no such", LIBRARY)
    with pytest.raises(ValueError, match="available: green, sky"):
        parse_background("studio", LIBRARY)


def test_files_are_read_only_when_asked(tmp_path, monkeypatch):
    picture = tmp_path / "beach.png"
    Image.new("RGB", (20, 10), (200, 180, 40)).save(picture)
    (tmp_path / "notes.txt").write_text("not a picture")
    with pytest.raises(ValueError):  # a service never opens a path it was sent
        parse_background(str(picture), LIBRARY)
    parsed = parse_background(str(picture), LIBRARY, files=True)
    assert isinstance(parsed, Picture) and parsed.label == "beach.png"
    assert np.all(parsed.behind(PHOTO, ALPHA) == (200, 180, 40))
    for bad in (tmp_path / "absent.png", tmp_path / "notes.txt"):
        with pytest.raises(ValueError):
            parse_background(str(bad), LIBRARY, files=True)
    assert file_named("green") is None and file_named("#fff") is None
    assert file_named(str(picture)) == picture


def test_the_shipped_backgrounds_load_green_first():
    library = load_library(BACKGROUNDS_DIR)
    assert next(iter(library)) == DEFAULT_BACKGROUND
    assert {"green", "sky", "studio", "white"} <= set(library)
    assert all(image.dtype == np.uint8 and image.shape[2] == 3 for image in library.values())


def test_the_grammar_classifies_a_spec_by_its_form_alone():
    from background_replacement.background import written_as

    assert [written_as(spec) for spec in ("transparent", " blur ", "#24f", "#12", "navy",
                                          "RebeccaPurple", "beach", "beach-2")] == \
        ["word", "word", "colour", "colour", "colour", "colour", "name", "name"]
    assert [written_as(spec) for spec in ("beach.jpg", "photos/sky", "a\\b", "Not A Colour!")] \
        == ["path", "path", "path", "other"]
