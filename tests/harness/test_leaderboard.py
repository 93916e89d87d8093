from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.cli.leaderboard import find_runs
from bench.leaderboard import build_leaderboard, render


def fake_run(root: Path, label: str, protocol: str, mad: float, moments: float, ci: float = 0.1) -> Path:
    directory = root / label
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps({"label": label, "metrics": ["test-mad"]}))
    summary = {
        "protocol": {"id": protocol, "version": 1},
        "metrics": {"test-mad": {"mean": mad, "ci_low": mad - ci, "ci_high": mad + ci, "n": 10, "coverage": 1.0,
                                 "higher_is_better": False}},
        "set_metrics": {"test-moments": {"value": moments, "frames": 100, "status": "ok", "reason": "",
                                         "higher_is_better": None}},
    }  # fmt: skip
    (directory / "summary.json").write_text(json.dumps(summary))
    return directory


@pytest.fixture
def runs(tmp_path, toy_metrics):
    root = tmp_path / "runs"
    return [
        fake_run(root, "alpha", "p-v1", 3.0, 10.0),
        fake_run(root, "beta", "p-v1", 1.0, 20.0),
        fake_run(root, "gamma", "p-v1", 2.0, 30.0),
        fake_run(root, "other", "q-v1", 0.1, 1.0),  # another protocol: left out
    ]


@pytest.fixture
def published(tmp_path):
    path = tmp_path / "published.toml"
    path.write_text(
        '[[result]]\nmethod = "PaperNet"\nprotocol = "p-v1"\ncitation = "Doe et al. 2020, Table 2"\n'
        '[result.metrics]\n"test-mad" = 1.5\n'
    )
    return path


def test_board_ranks_by_metric_direction(runs, published):
    board = build_leaderboard("p-v1", runs, published)
    assert [r.method for r in board.rows] == ["alpha", "beta", "gamma", "PaperNet"]
    assert [r.kind for r in board.rows] == ["reproduced"] * 3 + ["reported"]
    assert board.ranks("test-mad") == {"beta": 1, "PaperNet (reported)": 2, "gamma": 3, "alpha": 4}  # lower is better
    assert board.ranks("test-moments") == {}  # no direction: never ranked


def test_latex_booktabs_bold_best_underline_second(runs, published):
    tex = render(build_leaderboard("p-v1", runs, published), "tex")
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "test-mad $\\downarrow$" in tex
    assert "beta & \\textbf{1.000}" in tex
    assert "PaperNet$^\\dagger$ & \\underline{1.500}" in tex
    assert "\\textbf{10.000}" not in tex and "\\textbf{30.000}" not in tex


def test_markdown_and_csv(runs, published):
    board = build_leaderboard("p-v1", runs, published)
    md = render(board, "md")
    assert "| method | test-mad ↓ | test-moments |" in md
    assert "| beta | **1.000** | 20.000 |" in md
    assert "| PaperNet (reported) | <u>1.500</u> | – |" in md
    rows = list(csv.DictReader(io.StringIO(render(board, "csv"))))
    alpha = rows[0]
    assert alpha["method"] == "alpha" and float(alpha["test-mad"]) == 3.0
    assert float(alpha["test-mad_ci_low"]) == pytest.approx(2.9) and alpha["test-mad_n"] == "10"
    assert rows[3]["kind"] == "reported" and rows[3]["test-moments"] == ""


def test_html_is_self_contained(runs, published):
    page = render(build_leaderboard("p-v1", runs, published), "html")
    assert page.startswith("<!DOCTYPE html>") and "http://" not in page and "https://" not in page
    assert page.count('<svg class="plot"') == 2
    assert '<td data-value="1.0" class="best"' in page


def test_a_column_no_row_has_is_refused(runs, published, capsys, tmp_path):
    """``--metrics`` orders the columns; a misspelt name would have made an empty column."""
    board = build_leaderboard("p-v1", runs, published, ["test-moments"])
    assert [c.metric for c in board.columns] == ["test-moments", "test-mad"]
    with pytest.raises(ValueError, match=r"no row for p-v1 has test-madd \(the rows have test-mad, test-moments\)"):
        build_leaderboard("p-v1", runs, published, ["test-madd", "test-mad"])
    assert main(["leaderboard", *map(str, runs), "--protocol", "p-v1", "--out", str(tmp_path / "b"), "--metrics", "x"]) == 2
    assert "no row for p-v1 has x" in capsys.readouterr().err


def test_cli_writes_all_formats(runs, published, tmp_path, capsys):
    stem = tmp_path / "out" / "board"
    assert main(["leaderboard", str(tmp_path / "runs"), "--protocol", "p-v1", "--out", str(stem),
                 "--published", str(published)]) == 0  # fmt: skip
    for ext in ("md", "csv", "tex", "html"):
        assert (tmp_path / "out" / f"board.{ext}").stat().st_size > 0
    assert main(["leaderboard", str(tmp_path / "runs"), "--protocol", "p-v9", "--out", str(stem)]) == 2
    assert ("no run or published row for protocol 'p-v9'; the runs found are for: p-v1 (3 runs), q-v1 (1 run); pass one "
            "of these ids ('none' takes the runs evaluated without --protocol)") in capsys.readouterr().err  # fmt: skip


def test_runs_evaluated_without_a_protocol_share_the_table_none(tmp_path, toy_metrics):
    """`talkbench evaluate --metrics ...` stamps no protocol: such runs are tabulated with `--protocol none`."""
    runs = [fake_run(tmp_path / "r", name, "", mad, 1.0) for name, mad in (("mine", 1.0), ("theirs", 2.0))]
    for directory in runs:
        summary = json.loads((directory / "summary.json").read_text())
        (directory / "summary.json").write_text(json.dumps({**summary, "protocol": None}))
    fake_run(tmp_path / "r", "stamped", "p-v1", 0.5, 1.0)
    board = build_leaderboard("none", find_runs([tmp_path / "r"]))
    assert [r.method for r in board.rows] == ["mine", "theirs"] and board.ranks("test-mad") == {"mine": 1, "theirs": 2}
    assert main(["leaderboard", str(tmp_path / "r"), "--protocol", "none", "--out", str(tmp_path / "b")]) == 0
    assert "| mine | **1.000** | 1.000 |" in (tmp_path / "b.md").read_text()


def test_values_on_fewer_videos_than_the_run_are_marked_with_a_footnote(tmp_path, toy_metrics):
    """A mean that left out failed videos is starred in every format and the footnote says on how many it stands."""
    import math

    runs = [fake_run(tmp_path / "r", name, "p-v1", mad, 1.0) for name, mad in (("full", 2.0), ("lossy", 1.0), ("none", 3.0))]
    for directory, n, total in ((runs[0], 10, 10), (runs[1], 7, 10), (runs[2], 0, 10)):
        summary = json.loads((directory / "summary.json").read_text())
        summary["metrics"]["test-mad"].update(n=n, total=total, coverage=n / total)
        if n == 0:
            summary["metrics"]["test-mad"].update(mean=None, ci_low=None, ci_high=None)
        summary["counts"] = {"videos": total}
        summary["set_metrics"]["test-moments"]["videos_left_out"] = 3 if n == 0 else 0
        (directory / "summary.json").write_text(json.dumps(summary))
    board = build_leaderboard("p-v1", runs)
    lossy = board.rows[1].cells["test-mad"]
    assert lossy.incomplete and (lossy.videos, lossy.total) == (7, 10) and not board.rows[0].cells["test-mad"].incomplete
    assert math.isnan(board.rows[2].cells["test-mad"].mean) and not board.rows[2].cells["test-mad"].incomplete
    moments = board.rows[2].cells["test-moments"]  # a set-level value: n counts frames, videos_left_out the videos
    assert moments.incomplete and (moments.n, moments.videos, moments.total) == (100, 7, 10)
    note = ("scored on fewer videos than the run evaluated: lossy test-mad on 7 of 10; none test-moments on 7 of 10; "
            "the others failed")  # fmt: skip
    md = render(board, "md")
    assert "| lossy | **1.000**\\* | 1.000 |" in md and "| full | <u>2.000</u> | 1.000 |" in md
    assert "| none | – | 1.000\\* |" in md
    assert "\n\\* " + note in md
    tex = render(board, "tex")
    assert "lossy & \\textbf{1.000}$^*$ & 1.000" in tex and "\n% $^*$ " + note in tex
    page = render(board, "html")
    assert ' class="best" title="95% CI [0.9, 1.1], n=7">1.000*</td>' in page and f'<p class="note">* {note}' in page
    complete = render(build_leaderboard("p-v1", runs[:1]), "md")
    assert "*" not in complete.replace("**", "")


def test_runs_of_one_stamp_scored_differently_do_not_share_a_table(tmp_path, toy_metrics, capsys):
    """Two ``+custom`` runs stamp the same id whatever their overrides: a table of both would mix incomparable values."""
    runs = [fake_run(tmp_path / "r", name, "p-v1+custom", mad, 1.0) for name, mad in (("x", 1.0), ("y", 2.0))]
    for directory, fps in zip(runs, (25.0, 30.0), strict=True):
        config = json.loads((directory / "config.json").read_text())
        (directory / "config.json").write_text(json.dumps({**config, "fps": fps, "protocol": "p-v1+custom"}))
    with pytest.raises(ValueError, match="was scored differently from") as error:
        build_leaderboard("p-v1+custom", runs)
    assert str(error.value).splitlines()[1:] == ["  fps: 25.0 vs 30.0"]
    assert main(["leaderboard", *map(str, runs), "--protocol", "p-v1+custom", "--out", str(tmp_path / "b")]) == 2
    assert "fps: 25.0 vs 30.0" in capsys.readouterr().err
    assert [r.method for r in build_leaderboard("p-v1+custom", runs[:1]).rows] == ["x"]


def test_a_reported_row_of_a_reproduced_method_keeps_its_own_rank(tmp_path, toy_metrics):
    """A paper's number and talkbench's run of the same method are two rows, each ranked and marked for itself."""
    runs = [fake_run(tmp_path / "r", "beta", "p-v1", 1.0, 1.0), fake_run(tmp_path / "r", "alpha", "p-v1", 3.0, 1.0)]
    published = tmp_path / "published.toml"
    published.write_text('[[result]]\nmethod = "alpha"\nprotocol = "p-v1"\n[result.metrics]\n"test-mad" = 0.5\n'
                         '[[result]]\nmethod = "alpha"\npreset = "paper-small"\nprotocol = "p-v1"\n'
                         '[result.metrics]\n"test-mad" = 2.0\n')  # fmt: skip
    board = build_leaderboard("p-v1", runs, published)
    assert board.ranks("test-mad") == {"alpha (reported)": 1, "beta": 2, "alpha [paper-small] (reported)": 3, "alpha": 4}
    md = render(board, "md")
    assert "| alpha | 3.000 | 1.000 |" in md and "| alpha (reported) | **0.500** | – |" in md
    assert "| beta | <u>1.000</u> | 1.000 |" in md and "| alpha [paper-small] (reported) | 2.000 | – |" in md


def test_two_runs_of_one_label_do_not_share_a_table(tmp_path, toy_metrics, capsys):
    """Two benchmarks' folders both hold a ``static_frame`` run: one table of both would show two rows of one name."""
    runs = [fake_run(tmp_path / folder, "static_frame", "p-v1", mad, 1.0) for folder, mad in (("a", 1.0), ("b", 2.0))]
    with pytest.raises(ValueError, match="rows of the same name for p-v1") as error:
        build_leaderboard("p-v1", runs)
    assert str(error.value).splitlines()[1:] == [f"  static_frame: {runs[0]}, {runs[1]}"]
    assert main(["leaderboard", str(tmp_path), "--protocol", "p-v1", "--out", str(tmp_path / "board")]) == 2
    assert "label them apart" in capsys.readouterr().err


def test_evaluate_label_names_the_row(tmp_path, toy_metrics, toy_dirs):
    """``talkbench evaluate --label`` names a command-line run's row (the folder's name otherwise), so that two runs in
    folders of one name can share a table."""
    gen, ref = toy_dirs
    for folder, label in (("a", "my method"), ("b", None)):
        args = ["evaluate", "--generated", str(gen), "--reference", str(ref), "--metrics", "test-mad", "--no-progress",
                "--threads", "1", "--out", str(tmp_path / folder / "run")]  # fmt: skip
        assert main(args + (["--label", label] if label else [])) == 0
    assert main(["leaderboard", str(tmp_path), "--protocol", "none", "--out", str(tmp_path / "board")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "board.csv")))
    assert sorted(row["method"] for row in rows) == ["my method", "run"]


def test_infinite_values_render_and_rank(tmp_path, toy_metrics):
    import math

    runs = [fake_run(tmp_path / "r", "same", "p-v1", math.inf, 1.0, ci=0.0), fake_run(tmp_path / "r", "x", "p-v1", 2.0, 1.0)]
    board = build_leaderboard("p-v1", runs)
    assert board.ranks("test-mad") == {"x": 1, "same": 2}  # lower is better: +inf ranks last, but is ranked
    assert "| same | <u>∞</u> |" in render(board, "md")
    assert "\\underline{$\\infty$}" in render(board, "tex")
    assert ">∞</td>" in render(board, "html")


def test_labels_with_table_syntax_are_escaped(tmp_path, toy_metrics):
    """A label is free text (a benchmark config's ``label``): it must not break the Markdown row or the LaTeX source."""
    run = fake_run(tmp_path / "r", "x", "p-v1", 1.0, 1.0)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "label": "a|b_c~d^e\\f&g"}))
    board = build_leaderboard("p-v1", [run])
    assert "| a\\|b_c~d^e\\f&g | **1.000** | 1.000 |" in render(board, "md")  # moments has no direction
    assert r"a|b\_c\textasciitilde{}d\textasciicircum{}e\textbackslash{}f\&g & " in render(board, "tex")


def test_a_published_file_given_but_missing_or_broken_is_named(runs, tmp_path, capsys):
    args = ["leaderboard", str(tmp_path / "runs"), "--protocol", "p-v1", "--out", str(tmp_path / "b")]
    assert main([*args, "--published", str(tmp_path / "typo.toml")]) == 2
    assert f"{tmp_path / 'typo.toml'}: no such file of published numbers (--published)" in capsys.readouterr().err
    broken = tmp_path / "broken.toml"
    broken.write_text('[[result]]\nmethod = "x\n')
    assert main([*args, "--published", str(broken)]) == 2
    assert f"{broken}: not valid TOML (" in capsys.readouterr().err
    assert main([*args, "--formats", " , "]) == 2
    assert "--formats names no format; formats: md, csv, tex, html" in capsys.readouterr().err
