"""The core's file IO: atomic writes through partial files that clean-ups know, and the folder
walk every entry point uses."""

from __future__ import annotations

from background_replacement.files import (
    PARTIAL,
    find_images,
    partial_path,
    remove_partials,
    write_atomically,
)


def test_a_write_leaves_the_result_alone_and_a_partial_file_is_known_again(tmp_path):
    target = tmp_path / "deep" / "photo.png"
    write_atomically(target, b"result")
    assert [p.name for p in target.parent.iterdir()] == ["photo.png"]
    left = partial_path(target)
    left.write_bytes(b"cut short")
    assert PARTIAL.match(left.name) and left.name.startswith(".")
    assert remove_partials(tmp_path) == 1 and target.read_bytes() == b"result"


def test_the_walk_finds_images_and_skips_hidden_things_and_the_output(tmp_path):
    for name in ("b/one.jpg", "a.PNG", ".hidden.jpg", ".git/x.png", "notes.txt",
                 "out/old.png", "b/.photo.1234abcd.partial.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = find_images(tmp_path, skip=tmp_path / "out")
    assert [p.as_posix() for p in found] == ["a.PNG", "b/one.jpg"]
    assert find_images(tmp_path, skip=tmp_path) == []
