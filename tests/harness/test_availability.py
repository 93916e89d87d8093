import hashlib

from bench import weights
from bench.availability import unavailable_metrics, weight_hashes


def test_missing_weights_make_a_metric_unavailable_with_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(tmp_path))
    missing = unavailable_metrics(["psnr", "lse-d", "fid"])
    assert set(missing) == {"lse-d", "fid"}
    assert "talkbench weights fetch syncnet-v2" in missing["lse-d"]
    assert weight_hashes(["psnr", "lse-d"]) == {}


def test_present_weights_are_recorded_by_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(tmp_path))
    content = b"not the real syncnet, but a file whose hash a result must record"
    (tmp_path / weights.get("syncnet-v2").filename).write_bytes(content)
    assert unavailable_metrics(["lse-d", "lse-c"]) == {}
    assert weight_hashes(["lse-d", "lse-c", "psnr"]) == {"syncnet-v2": hashlib.sha256(content).hexdigest()}
