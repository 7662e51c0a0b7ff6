"""The command line's pure parts: output names, Retry-After, backgrounds, server addresses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from background_replacement.client.matting_client import retry_after_seconds, server_url
from background_replacement.client.photos import background_field
from background_replacement.client.targets import plan_targets, renamed


def names(sources: list[str], flat: bool = False) -> dict[str, str]:
    plan = plan_targets([Path(s) for s in sources], ".png", flat=flat)
    return {str(source): str(target) for source, target in plan.items()}


def test_a_lone_stem_keeps_its_name_and_the_tree_is_mirrored():
    assert names(["a.jpg", "sub/b.webp", "sub/deep/c.PNG"]) == {
        "a.jpg": "a.png", "sub/b.webp": "sub/b.png", "sub/deep/c.PNG": "sub/deep/c.png"}


def test_sources_sharing_a_stem_all_keep_their_whole_names():
    assert names(["astronaut.jpg", "astronaut.webp", "other.png"]) == {
        "astronaut.jpg": "astronaut.jpg.png", "astronaut.webp": "astronaut.webp.png",
        "other.png": "other.png"}
    # only in the same folder: a tree keeps them apart
    assert names(["a.jpg", "sub/a.jpg"]) == {"a.jpg": "a.png", "sub/a.jpg": "sub/a.png"}


def test_flat_and_case_clashes_are_numbered_and_no_two_targets_meet():
    assert names(["a.jpg", "sub/a.jpg", "x/a.jpg"], flat=True) == {
        "a.jpg": "a.jpg.png", "sub/a.jpg": "a.jpg-1.png", "x/a.jpg": "a.jpg-2.png"}
    plan = names(["A.jpg", "a.jpg", "a.jpg.png", "a.png"])
    assert len({target.casefold() for target in plan.values()}) == len(plan) == 4
    assert plan["a.jpg.png"] == "a.jpg.png"  # a lone name is never taken from its owner


def test_renamed_lists_only_the_names_that_changed():
    plan = plan_targets([Path("a.jpg"), Path("a.webp"), Path("b.jpg")], ".png")
    assert renamed(plan, ".png") == {Path("a.jpg"): Path("a.jpg.png"),
                                     Path("a.webp"): Path("a.webp.png")}


def test_retry_after_in_seconds_or_as_an_http_date():
    now = datetime(2026, 11, 27, 15, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("3", now) == 3.0
    assert retry_after_seconds("Fri, 27 Nov 2026 15:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Fri, 27 Nov 2026 14:59:00 GMT", now) == 0.0  # past: now
    assert retry_after_seconds("-5", now) == 0.0
    for unreadable in (None, "", "soon", "Fri, 99 Nov 2026"):
        assert retry_after_seconds(unreadable, now) is None


def test_backgrounds_as_the_service_takes_them(tmp_path):
    assert background_field("green") == "green"
    assert background_field("RebeccaPurple") == "RebeccaPurple"  # the service reads it
    assert background_field("#24f") == "#24f"
    assert background_field("rgb(10, 20, 30)") == "#0a141e"
    assert background_field("hsl(120, 100%, 50%)") == "#00ff00"
    picture = tmp_path / "beach.jpg"
    picture.write_bytes(b"jpeg bytes")
    assert background_field(str(picture)) == b"jpeg bytes"
    for typo in ("beach.jpg", "photos/beach", "~/nothing/sky.png"):
        with pytest.raises(ValueError, match="no such file"):
            background_field(typo)
    for bad in ("#12", "rgb(1,2", "Not A Colour!"):
        with pytest.raises(ValueError):
            background_field(bad)


def test_server_addresses():
    assert server_url("127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert server_url("https://matting.example/") == "https://matting.example"
    for bad in ("ftp://host", "http://", ""):
        with pytest.raises(ValueError):
            server_url(bad)
