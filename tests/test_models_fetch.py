"""``remove-background-models fetch`` against a real HTTP server on 127.0.0.1 serving random
weights: a file whose SHA-256 matches the catalogue's lands in place; one that does not, or a failed
download, is refused with a clear error and leaves no file behind."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from background_replacement.models import CATALOG, WeightsFile
from background_replacement.models.__main__ import FetchError, fetch

RECORDS = list(CATALOG.values())


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the requests are not worth a line each
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A folder with a file of random weights, served over HTTP on 127.0.0.1: (URL, file)."""
    folder = tmp_path_factory.mktemp("served")
    weights = folder / "weights.pth"
    torch.save({"layer.weight": torch.randn(256, 512), "layer.bias": torch.randn(256)}, weights)
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", weights
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def local(record: WeightsFile, url: str, sha256: str) -> WeightsFile:
    return dataclasses.replace(record, url=url, sha256=sha256)


def test_every_catalogued_file_has_a_hash_and_says_where_it_is_from():
    for record in RECORDS:
        assert len(record.sha256) >= 8 and int(record.sha256, 16) >= 0
        assert record.sha256_source
    # torch.hub's convention: the digits after the last "-" of the file name start its hash.
    maskrcnn = CATALOG["maskrcnn"]
    assert maskrcnn.filename.removesuffix(".pth").rsplit("-", 1)[1] == maskrcnn.sha256


@pytest.mark.parametrize("record", RECORDS, ids=[r.key for r in RECORDS])
@pytest.mark.parametrize("digits", [64, 8], ids=["whole", "prefix"])
def test_a_matching_file_lands_in_place(served, tmp_path, capsys, record, digits):
    url, weights = served
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:digits]
    target = fetch(local(record, f"{url}/{weights.name}", digest), directory=tmp_path / "w")
    assert target == tmp_path / "w" / record.filename
    assert target.read_bytes() == weights.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == [record.filename]
    assert "100%" in capsys.readouterr().err  # the progress bar ran to its end
    torch.load(target, map_location="cpu", weights_only=True)  # loads as weights


@pytest.mark.parametrize("record", RECORDS, ids=[r.key for r in RECORDS])
def test_a_file_with_another_hash_is_refused_and_removed(served, tmp_path, record):
    url, weights = served
    wrong = ("0" if record.sha256[0] != "0" else "1") * len(record.sha256)
    with pytest.raises(FetchError, match="is not the published file") as caught:
        fetch(local(record, f"{url}/{weights.name}", wrong), directory=tmp_path)
    message = str(caught.value)
    assert wrong in message and record.sha256_source in message
    assert "nothing was saved" in message
    assert list(tmp_path.iterdir()) == []  # no file, no .partial


def test_an_existing_file_is_replaced_only_when_the_new_one_matches(served, tmp_path):
    url, weights = served
    record = local(CATALOG["fba"], f"{url}/{weights.name}", "0" * 64)
    (tmp_path / record.filename).write_bytes(b"the user's own file")
    assert fetch(record, directory=tmp_path).read_bytes() == b"the user's own file"
    with pytest.raises(FetchError):
        fetch(record, directory=tmp_path, force=True)
    assert (tmp_path / record.filename).read_bytes() == b"the user's own file"
    assert len(list(tmp_path.iterdir())) == 1


def test_a_failed_download_says_so_and_leaves_nothing(served, tmp_path):
    url, _ = served
    record = local(CATALOG["maskrcnn"], f"{url}/missing.pth", "bf2d0c1e")
    with pytest.raises(FetchError, match=r"could not download .*404"):
        fetch(record, directory=tmp_path)
    assert list(tmp_path.iterdir()) == []
