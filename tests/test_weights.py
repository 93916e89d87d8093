"""The weights manager: checked atomic downloads (local servers only), --from import, safe loading, the CLI."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from bench import weights
from bench.cli import main

PAYLOAD = b"talkbench test weights " * 1000


@pytest.fixture()
def wdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "weights"
    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(target))
    return target


def _entry(monkeypatch: pytest.MonkeyPatch, url: str | None, data: bytes = PAYLOAD, **changes) -> weights.WeightFile:
    """Point the syncnet-v2 row at a local file with ``data``'s real checksum (or ``changes``)."""
    fields = {"url": url, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), **changes}
    entry = dataclasses.replace(weights.TABLE["syncnet-v2"], **fields)
    monkeypatch.setitem(weights.TABLE, "syncnet-v2", entry)
    return entry


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    """A static HTTP server on 127.0.0.1 serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "model.bin").write_bytes(PAYLOAD)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_every_file_has_users_derived_from_the_weights_attributes() -> None:
    from bench.availability import weight_users

    users = weight_users()
    assert set(users) == set(weights.TABLE)  # no file that nothing uses, no use of a file outside the table
    # every registered variant is listed (the hand-kept list had missed the LSE crop-pipeline variants)
    assert {"lse-d-wav2lip-lrs", "lse-c-syncnet-track", "av-offset-wav2lip-lrs"} <= set(users["syncnet-v2"])
    assert users["deepspeech2-librispeech"] == ["maml_lip", "oneshot_a2v"] and "meta_talk" in users["bfm-deng-front"]


def test_table_is_consistent() -> None:
    for name, entry in weights.TABLE.items():
        assert entry.name == name
        assert entry.licence
        assert entry.url is None or entry.url.startswith("https://")
        if entry.sha256 is None:
            assert "SHA-256 not established" in entry.notes
            continue
        assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
        # torch hub names embed the first hex digits of the file's SHA-256
        prefix = re.search(r"-([0-9a-f]{8})\.pth$", entry.filename)
        if prefix:
            assert entry.sha256.startswith(prefix.group(1)), name


def test_fetch_over_http_is_checked_and_atomic(wdir: Path, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _entry(monkeypatch, f"{server}/model.bin")
    assert not weights.available("syncnet-v2")
    target = weights.fetch("syncnet-v2", progress=False)
    assert target == wdir / "syncnet_v2.model" and target.read_bytes() == PAYLOAD
    assert sorted(p.name for p in wdir.iterdir()) == ["syncnet_v2.model"]  # no temporary file left
    assert weights.verify("syncnet-v2") and weights.path("syncnet-v2") == target


def test_checksum_mismatch_leaves_nothing(wdir: Path, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _entry(monkeypatch, f"{server}/model.bin", sha256="0" * 64)
    with pytest.raises(weights.WeightsChecksumError, match=f"^{server}/model.bin: SHA-256 .* expected 0000"):
        weights.fetch("syncnet-v2", progress=False)
    assert list(wdir.iterdir()) == []
    _entry(monkeypatch, f"{server}/model.bin", size=len(PAYLOAD) + 1)
    with pytest.raises(weights.WeightsChecksumError, match="bytes"):
        weights.fetch("syncnet-v2", progress=False)
    assert list(wdir.iterdir()) == []


def test_fetch_file_url_and_corruption_detected(wdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(PAYLOAD)
    _entry(monkeypatch, source.as_uri())
    target = weights.fetch("syncnet-v2", progress=False)
    target.write_bytes(PAYLOAD[:-1] + b"X")  # same size, different bytes
    assert weights.verify("syncnet-v2") is False
    with pytest.raises(weights.WeightsChecksumError):
        weights.load_state_dict("syncnet-v2")


def test_failed_download_names_the_address(wdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _entry(monkeypatch, (tmp_path / "absent.bin").as_uri())
    with pytest.raises(OSError, match=r"absent\.bin failed .*--from DIR"):
        weights.fetch("syncnet-v2", progress=False)
    assert not wdir.exists() or list(wdir.iterdir()) == []


def test_missing_file_message_names_file_place_and_command(wdir: Path) -> None:
    with pytest.raises(weights.WeightsMissingError) as info:
        weights.path("syncnet-v2")
    message = str(info.value)
    assert "syncnet_v2.model" in message and str(wdir) in message
    assert "talkbench weights fetch syncnet-v2" in message and "--from DIR" in message
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(KeyError, match="did you mean syncnet-v2"):
        weights.path("syncnet")


def test_unverifiable_entries_are_refused(wdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(PAYLOAD)
    _entry(monkeypatch, source.as_uri(), sha256=None, size=None)
    with pytest.raises(weights.WeightsUnverifiableError, match="allow-unverified"):
        weights.fetch("syncnet-v2", progress=False)
    assert not weights.available("syncnet-v2")
    weights.fetch("syncnet-v2", progress=False, allow_unverified=True)
    with pytest.raises(weights.WeightsUnverifiableError, match=hashlib.sha256(PAYLOAD).hexdigest()):
        weights.verify("syncnet-v2")


def test_import_from_directory_via_cli(wdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    hand = tmp_path / "hand" / "nested"
    hand.mkdir(parents=True)
    (hand / "syncnet_v2.model").write_bytes(PAYLOAD)
    _entry(monkeypatch, None)
    assert main(["weights", "fetch", "--from", str(tmp_path / "hand")]) == 0
    assert (wdir / "syncnet_v2.model").read_bytes() == PAYLOAD
    assert "syncnet-v2: imported" in capsys.readouterr().out
    (hand / "syncnet_v2.model").write_bytes(PAYLOAD + b"!")
    _entry(monkeypatch, None, size=None)
    assert main(["weights", "fetch", "--from", str(tmp_path / "hand")]) == 2  # checksum error, reported
    assert f"{hand / 'syncnet_v2.model'}: SHA-256 " in capsys.readouterr().err  # the file given, not a temporary copy
    assert (wdir / "syncnet_v2.model").read_bytes() == PAYLOAD  # the good file was not replaced


def test_cli_list_path_verify(wdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    assert main(["weights", "path", "syncnet-v2"]) == 2
    assert "talkbench weights fetch syncnet-v2" in capsys.readouterr().err
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    for entry in weights.TABLE.values():
        assert entry.name in out and entry.filename in out
    assert re.search(r"syncnet-v2\s+no\s", out)
    assert re.search(r"syncnet-v2 .* av-offset,lse-c,lse-d \(\+ variants\)\s+syncnet_v2.model\n", out)  # one line
    assert re.search(r"deepspeech2-librispeech .* maml_lip,oneshot_a2v\s", out)
    source = tmp_path / "src.bin"
    source.write_bytes(PAYLOAD)
    _entry(monkeypatch, source.as_uri())
    assert main(["weights", "fetch", "syncnet-v2"]) == 0
    capsys.readouterr()
    assert main(["weights", "list"]) == 0 and re.search(r"syncnet-v2\s+yes\s", capsys.readouterr().out)
    assert main(["weights", "path", "syncnet-v2"]) == 0
    assert capsys.readouterr().out.strip() == str(wdir / "syncnet_v2.model")
    assert main(["weights", "verify"]) == 0 and "syncnet-v2: ok" in capsys.readouterr().out
    (wdir / "syncnet_v2.model").write_bytes(PAYLOAD[::-1])
    assert main(["weights", "verify", "syncnet-v2"]) == 1
    assert "CHECKSUM MISMATCH" in capsys.readouterr().out


@pytest.mark.parametrize("zipfile", [True, False], ids=["zip", "legacy"])
def test_load_state_dict_weights_only(wdir: Path, monkeypatch: pytest.MonkeyPatch, zipfile: bool) -> None:
    wdir.mkdir()
    state = {"a.weight": torch.arange(6.0).reshape(2, 3), "a.bias": torch.ones(2)}
    file = wdir / "syncnet_v2.model"
    torch.save(state, file, _use_new_zipfile_serialization=zipfile)
    _entry(monkeypatch, None, file.read_bytes())
    loaded = weights.load_state_dict("syncnet-v2")
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)


def test_pickled_module_is_refused(wdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wdir.mkdir()
    file = wdir / "syncnet_v2.model"
    torch.save(torch.nn.Linear(2, 2), file)  # a whole pickled module: loading it would run pickled code
    _entry(monkeypatch, None, file.read_bytes())
    with pytest.raises(ValueError, match="weights_only"):
        weights.load_state_dict("syncnet-v2")
