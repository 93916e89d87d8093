from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.compare import compare_runs, parse_tolerances


def write_run(directory, values: dict[str, np.ndarray], directions: dict[str, bool | None]):
    directory.mkdir(parents=True)
    n = len(next(iter(values.values())))
    table = pd.DataFrame({"video": [f"u{i}" for i in range(n)], "status": "ok", "reason": "", "speaker": "s1", **values})
    table.to_csv(directory / "per_video.csv", index=False)
    means = {m: float(np.mean(v[~np.isnan(v)])) if not np.isnan(v).all() else math.nan for m, v in values.items()}
    summary = {"metrics": {m: {"mean": means[m], "higher_is_better": directions[m]} for m in values}}
    (directory / "summary.json").write_text(json.dumps(summary))
    return directory


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    psnr = rng.normal(30, 2, 60)
    lse = rng.normal(8, 0.5, 60)
    a = write_run(tmp_path / "a", {"psnr": psnr, "lse-d": lse}, {"psnr": True, "lse-d": False})
    # B: psnr drops by 1 dB on every video (a regression); lse-d drops by 0.5 (an improvement: lower is better)
    b = write_run(tmp_path / "b", {"psnr": psnr - 1.0 + rng.normal(0, 0.1, 60), "lse-d": lse - 0.5},
                  {"psnr": True, "lse-d": False})  # fmt: skip
    return a, b


def test_direction_aware_paired_bootstrap(runs):
    a, b = runs
    results = {r.metric: r for r in compare_runs(a, b)}
    psnr, lse = results["psnr"], results["lse-d"]
    assert psnr.worsening == pytest.approx(1.0, abs=0.05) and psnr.regressed and not psnr.improved
    assert lse.worsening == pytest.approx(-0.5) and lse.improved and not lse.regressed
    assert psnr.n == 60


def test_tolerance_absorbs_a_small_change(runs):
    a, b = runs
    assert not {r.metric: r for r in compare_runs(a, b, {"psnr": 1.5})}["psnr"].regressed


def test_cli_exit_codes(runs, capsys):
    a, b = runs
    assert main(["compare", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED" in out and "regression in: psnr" in out
    assert main(["compare", str(a), str(b), "--tolerance", "psnr=2"]) == 0
    assert main(["compare", str(b), str(a)]) == 1  # reversed: lse-d now regresses
    assert main(["compare", str(a), str(a)]) == 0


def test_a_tolerance_for_a_metric_the_runs_lack_is_refused(runs, capsys):
    a, b = runs
    with pytest.raises(ValueError, match=r"tolerance for psnrr, not a per-video metric of the baseline run \(psnr, lse-d\)"):
        compare_runs(a, b, {"psnrr": 2.0})
    assert main(["compare", str(a), str(b), "--tolerance", "psnrr=2"]) == 2
    assert "tolerance for psnrr" in capsys.readouterr().err


def test_parse_tolerances():
    assert parse_tolerances("psnr=0.5, ssim=0.01") == {"psnr": 0.5, "ssim": 0.01}
    with pytest.raises(ValueError, match="metric=value"):
        parse_tolerances("psnr")


def test_nan_videos_are_left_out_of_the_pairing(tmp_path):
    a = write_run(tmp_path / "a", {"psnr": np.array([30.0, 31.0, math.nan])}, {"psnr": True})
    b = write_run(tmp_path / "b", {"psnr": np.array([30.0, math.nan, 20.0])}, {"psnr": True})
    (result,) = compare_runs(a, b)
    assert result.n == 1 and result.worsening == 0.0
    assert result.lost == 1 and result.regressed  # u1: A scored it, B failed it


def test_videos_and_metrics_that_b_lost_are_a_regression_whatever_the_tolerance(tmp_path, capsys):
    """A candidate that fails or leaves out videos the baseline scored must not pass as "no change"."""
    values = np.array([30.0, 31.0, 32.0, 33.0])
    a = write_run(tmp_path / "a", {"psnr": values, "blink-rate": values / 100}, {"psnr": True, "blink-rate": None})
    fewer = write_run(tmp_path / "fewer", {"psnr": values[:3], "blink-rate": values[:3] / 100},
                      {"psnr": True, "blink-rate": None})  # fmt: skip
    results = {r.metric: r for r in compare_runs(a, fewer, {"psnr": 100.0})}
    assert results["psnr"].n == 3 and results["psnr"].worsening == 0.0 and results["psnr"].lost == 1
    assert results["psnr"].regressed and results["blink-rate"].regressed  # a metric without direction loses too
    no_psnr = write_run(tmp_path / "no_psnr", {"blink-rate": values / 100}, {"blink-rate": None})
    results = {r.metric: r for r in compare_runs(a, no_psnr)}
    assert results["psnr"].n == 0 and results["psnr"].lost == 4 and results["psnr"].regressed
    assert results["blink-rate"].lost == 0 and not results["blink-rate"].regressed
    gained = write_run(tmp_path / "gained", {"psnr": values}, {"psnr": True})
    a_failed_one = write_run(tmp_path / "a2", {"psnr": np.array([30.0, 31.0, 32.0, math.nan])}, {"psnr": True})
    (result,) = compare_runs(a_failed_one, gained)
    assert result.lost == 0 and result.n == 3 and not result.regressed  # B scoring more videos is no loss
    assert main(["compare", str(a), str(fewer), "--tolerance", "psnr=100"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED: B did not score 1 of the videos A scored" in out and "regression in: psnr, blink-rate" in out


def test_infinite_values_are_compared_not_dropped(tmp_path, capsys):
    """PSNR is +inf for identical frames: a lossless baseline turning lossy must regress, not pass with n = 0."""
    inf = math.inf
    lossless = write_run(tmp_path / "a", {"psnr": np.array([inf, inf, 30.0])}, {"psnr": True})
    same = write_run(tmp_path / "same", {"psnr": np.array([inf, inf, 30.0])}, {"psnr": True})
    (result,) = compare_runs(lossless, same)
    assert result.n == 3 and result.worsening == 0.0 and result.mean_a == inf and not result.regressed
    lossy = write_run(tmp_path / "lossy", {"psnr": np.array([inf, 48.0, 30.0])}, {"psnr": True})
    (result,) = compare_runs(lossless, lossy, {"psnr": 100.0})
    assert result.n == 2 and result.infinitely_worse == 1 and result.regressed and not result.improved
    assert main(["compare", str(lossless), str(lossy)]) == 1
    assert "REGRESSED: B is infinitely worse on 1 of the videos (infinite in one run only)" in capsys.readouterr().out
    (result,) = compare_runs(lossy, lossless)
    assert result.infinitely_better == 1 and result.improved and not result.regressed
    distance = write_run(tmp_path / "d", {"lmd": np.array([1.0, 2.0])}, {"lmd": False})
    diverged = write_run(tmp_path / "d2", {"lmd": np.array([1.0, inf])}, {"lmd": False})
    assert compare_runs(distance, diverged)[0].infinitely_worse == 1  # lower is better: +inf is the worse side
    nothing = write_run(tmp_path / "n", {"psnr": np.array([math.nan, 30.0])}, {"psnr": True})
    other = write_run(tmp_path / "o", {"psnr": np.array([30.0, math.nan])}, {"psnr": True})
    assert main(["compare", str(nothing), str(other)]) == 1  # lost u1
    assert main(["compare", str(write_run(tmp_path / "e", {"psnr": np.array([math.nan])}, {"psnr": True})), str(other)]) == 0
    assert "not compared: no video has a value in both runs" in capsys.readouterr().out


def test_runs_scored_differently_are_not_compared(runs, capsys):
    """A crop, frame rate or metric option that differs moves every value: such runs are refused, naming the setting."""
    a, b = runs
    config = {"protocol": "grid-v1", "protocol_version": 1, "fps": 25.0, "sample_rate": 16000, "length_policy": "video",
              "crop": {"mode": "aligned-face", "size": 128}, "metric_options": {"psnr": {}}, "label": "a", "seed": 0}  # fmt: skip
    (a / "config.json").write_text(json.dumps(config))
    (b / "config.json").write_text(json.dumps({**config, "label": "b", "seed": 3, "metric_options": {"fid": {"x": 1}}}))
    assert len(compare_runs(a, b)) == 2  # labels, seeds and options of metrics not in both runs do not matter
    (b / "config.json").write_text(json.dumps({**config, "crop": {"mode": "full-frame", "size": 128},
                                               "metric_options": {"psnr": {"region": "face"}}}))  # fmt: skip
    with pytest.raises(ValueError, match="were not scored the same way") as error:
        compare_runs(a, b)
    assert str(error.value).splitlines()[1:] == [
        "  crop: {'mode': 'aligned-face', 'size': 128} vs {'mode': 'full-frame', 'size': 128}",
        "  psnr options: {} vs {'region': 'face'}",
    ]
    assert main(["compare", str(a), str(b)]) == 2
    assert "not scored the same way" in capsys.readouterr().err


def test_pytest_plugin_fails_on_regression(runs, pytester):
    a, b = runs
    pytester.makepyfile(
        f"""
        def test_good(talkbench_regression):
            talkbench_regression({str(a)!r})

        def test_bad(talkbench_regression):
            talkbench_regression({str(b)!r})
        """
    )
    result = pytester.runpytest("-p", "bench.pytest_plugin", "--talkbench-baseline", str(a), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*talkbench regression in psnr*"])


def test_a_damaged_run_file_is_named(runs, capsys):
    """A summary.json cut off by a full disk or a copy must be named, not reported as a bare JSON parser message."""
    a, b = runs
    text = (b / "summary.json").read_text()
    (b / "summary.json").write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match=r"summary.json: not valid JSON \(.*\); the file is damaged or was cut off"):
        compare_runs(a, b)
    assert main(["compare", str(a), str(b)]) == 2
    assert f"{b / 'summary.json'}: not valid JSON" in capsys.readouterr().err
    assert main(["leaderboard", str(b.parent), "--protocol", "none", "--out", str(b.parent / "board")]) == 2
