from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from bench.cli import main
from bench.evaluate import EvalConfig, evaluate, pair_directories


def run(toy_dirs, out, **kwargs):
    gen, ref = toy_dirs
    specs = pair_directories(gen, ref)
    config = EvalConfig(metrics=["test-mad", "test-moments"])
    return evaluate(specs, config, out, progress=False, **kwargs)


def test_every_video_is_accounted_for(toy_metrics, toy_dirs, tmp_path):
    summary = run(toy_dirs, tmp_path / "run")
    table = pd.read_csv(tmp_path / "run" / "per_video.csv", keep_default_na=False)
    assert list(table.columns[:4]) == ["video", "status", "reason", "speaker"]
    rows = table.set_index("video")
    assert set(rows.index) == {"u0", "u1", "u2", "u3", "only_generated", "only_reference", "black", "corrupt"}
    for i in range(4):  # generated = reference + (i + 1), except where clipped at 255
        assert rows.loc[f"u{i}", "status"] == "ok"
        assert 0 < float(rows.loc[f"u{i}", "test-mad"]) <= i + 1
    assert rows.loc["only_generated", "status"] == "partial"  # the set-level metric still used it
    assert "needs reference" in rows.loc["only_generated", "reason"]
    assert "no generated video" in rows.loc["only_reference", "reason"]
    assert "all frames are black" in rows.loc["black", "reason"]
    assert "test-moments: nothing but black frames" in rows.loc["black", "reason"]  # set-level metric left it out
    assert "corrupt.mkv" in rows.loc["corrupt", "reason"]
    assert rows.loc["corrupt", "test-mad"] == ""  # a failure is no number, never 0.0
    assert summary["counts"] == {"videos": 8, "ok": 4, "partial": 1, "failed": 3}
    agg = summary["metrics"]["test-mad"]
    assert agg["n"] == 4 and agg["total"] == 8 and agg["coverage"] == 0.5
    expected = pd.to_numeric(rows["test-mad"], errors="coerce").mean()
    assert agg["mean"] == pytest.approx(expected)
    assert agg["ci_low"] <= agg["mean"] <= agg["ci_high"]
    assert summary["set_metrics"]["test-moments"]["frames"] == 50  # the five usable generated clips, 10 frames each
    assert summary["set_metrics"]["test-moments"]["videos_left_out"] == 1
    stored = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert stored["counts"] == summary["counts"]
    env = json.loads((tmp_path / "run" / "environment.json").read_text())
    assert env["packages"]["torch"] and "git_commit" in env and env["seed"] == 0


def test_existing_run_is_not_overwritten(toy_metrics, toy_dirs, tmp_path):
    run(toy_dirs, tmp_path / "run")
    with pytest.raises(ValueError, match="--resume"):
        run(toy_dirs, tmp_path / "run")


def test_resume_after_kill_loses_nothing_and_recomputes_nothing(toy_metrics, toy_dirs, tmp_path):
    clean = run(toy_dirs, tmp_path / "clean")
    toy_metrics.CALLS.clear()
    gen, ref = toy_dirs
    specs = pair_directories(gen, ref)
    config = EvalConfig(metrics=["test-mad", "test-moments"], metric_options={"test-mad": {"interrupt_after": 3}})
    with pytest.raises(KeyboardInterrupt):
        evaluate(specs, config, tmp_path / "killed", progress=False)
    journal = (tmp_path / "killed" / "rows.jsonl").read_text().splitlines()
    finished = [json.loads(line)["video"] for line in journal]
    with open(tmp_path / "killed" / "rows.jsonl", "a") as f:
        f.write('{"video": "u3", "sta')  # a torn write from the kill
    toy_metrics.CALLS.clear()
    config.metric_options = {"test-mad": {"interrupt_after": 3}}
    resumed = evaluate(specs, config, tmp_path / "killed", progress=False, resume=True)
    assert not set(toy_metrics.CALLS) & set(finished)  # finished videos were not scored again
    assert resumed["counts"] == clean["counts"]
    assert resumed["metrics"]["test-mad"] == clean["metrics"]["test-mad"]
    assert resumed["set_metrics"] == clean["set_metrics"]  # set-level state neither lost nor double-counted


def test_resume_refuses_another_configuration(toy_metrics, toy_dirs, tmp_path):
    run(toy_dirs, tmp_path / "run")
    gen, ref = toy_dirs
    with pytest.raises(ValueError, match="another configuration") as error:
        evaluate(pair_directories(gen, ref), EvalConfig(metrics=["test-mad"]), tmp_path / "run", resume=True)
    assert "(then vs now: metrics: ['test-mad', 'test-moments'] vs ['test-mad'])" in str(error.value)  # what changed


def test_cli_evaluate_writes_run(toy_metrics, toy_dirs, tmp_path, capsys):
    gen, ref = toy_dirs
    code = main(["evaluate", "--generated", str(gen), "--reference", str(ref), "--metrics", "test-mad",
                 "--out", str(tmp_path / "cli"), "--no-progress"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "8 videos: 4 ok, 0 partial, 4 failed" in out
    assert "  test-mad: " in out and "] (4 of 8 videos)\n" in out
    assert (tmp_path / "cli" / "per_video.csv").exists()
    reasons = out.split("not fully scored:\n", 1)[1].splitlines()[:-1]  # then the line naming the files written
    assert reasons == [
        "  black failed: test-mad: all frames are black",
        f"  corrupt failed: {gen / 'corrupt.mkv'}: not a readable media file, or a truncated one (FFmpeg: Invalid data "
        "found when processing input)",
        "  only_generated failed: test-mad: test-mad needs reference; none was given for this video",
        "  only_reference failed: only_reference: no generated video for this utterance",
    ]


def test_cli_exit_status_is_1_when_a_metric_scored_no_video(toy_metrics, toy_dirs, tmp_path, capsys):
    """A run whose metric has no value at all must stop a script (`evaluate ... && leaderboard ...`)."""
    gen, ref = toy_dirs
    for path in gen.iterdir():
        if path.stem not in ("black", "corrupt"):
            path.unlink()
    assert main(["evaluate", "--generated", str(gen), "--reference", str(ref), "--metrics", "test-mad,test-moments",
                 "--out", str(tmp_path / "cli"), "--no-progress"]) == 1  # fmt: skip
    captured = capsys.readouterr()
    assert "7 videos: 0 ok, 0 partial, 7 failed" in captured.out and "  test-mad: n/a [n/a, n/a] (0 of 7 videos)" in captured.out
    assert "talkbench: error: no value for test-mad, test-moments: no video could be scored with it" in captured.err


def test_cli_names_the_first_problems_and_counts_the_rest(toy_metrics, toy_dirs, tmp_path, capsys, monkeypatch):
    from bench.cli import evaluate as evaluate_command

    monkeypatch.setattr(evaluate_command, "SHOWN_PROBLEMS", 2)
    gen, ref = toy_dirs
    assert main(["evaluate", "--generated", str(gen), "--reference", str(ref), "--metrics", "test-mad",
                 "--out", str(tmp_path / "cli"), "--no-progress"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "  black failed: " in out and "  corrupt failed: " in out and "only_generated failed" not in out
    assert f"  ... and 2 more (status and reason of every video: {tmp_path / 'cli' / 'per_video.csv'})" in out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("{test-mad: 1}", "--metric-options is not JSON (Expecting property name"),
        ('{"test-mad": 1}', "--metric-options must map metric names to objects of options"),
        ('[{"test-mad": {}}]', "--metric-options must map metric names to objects of options"),
        ('{"test-mad": {"nope": 1}}', "metric options of 'test-mad': metric 'test-mad' has no option(s) nope; options: "),
        ('{"test-mda": {}}', "--metric-options names test-mda, not among the metrics of this run (test-mad)"),
    ],
)
def test_cli_metric_options_mistakes_are_named(toy_metrics, toy_dirs, tmp_path, capsys, options, message):
    gen, ref = toy_dirs
    out = tmp_path / "run"
    assert main(["evaluate", "--generated", str(gen), "--reference", str(ref), "--metrics", "test-mad", "--metric-options",
                 options, "--out", str(out), "--no-progress"]) == 2  # fmt: skip
    assert message in capsys.readouterr().err and not out.exists()


def test_a_metric_whose_input_no_video_has_stops_the_run_before_it_starts(toy_metrics, toy_dirs, tmp_path, capsys):
    """Without any reference a reference metric could only fail every video: the command says so and writes nothing."""
    gen, _ = toy_dirs
    out = tmp_path / "run"
    assert main(["evaluate", "--generated", str(gen), "--metrics", "test-mad", "--out", str(out), "--no-progress"]) == 2
    message = capsys.readouterr().err
    assert "none of the 7 videos has what these metrics need" in message
    assert "  test-mad: reference videos (talkbench evaluate --reference DIR" in message
    assert not out.exists()


def test_check_inputs_names_each_missing_input_and_its_metrics(tmp_path):
    import metrics
    from bench.evaluate import ItemSpec, check_inputs

    chosen = {name: metrics.create(name) for name in ("psnr", "ssim", "acd-i", "wer", "cpbd", "mouth-sync")}
    bare = [ItemSpec("u0", tmp_path / "u0.mp4"), ItemSpec("u1", tmp_path / "u1.mp4")]
    with pytest.raises(ValueError, match="none of the 2 videos") as error:
        check_inputs(bare, chosen)
    lines = str(error.value).splitlines()[1:]
    assert [line.split(":")[0] for line in lines] == ["  psnr, ssim", "  acd-i", "  wer"]  # not cpbd, not audio's
    one_reference = [bare[0], ItemSpec("u1", tmp_path / "u1.mp4", tmp_path / "r1.mp4")]
    with pytest.raises(ValueError) as error:
        check_inputs(one_reference, chosen)  # one reference is enough for psnr, ssim and acd-i (its first frame)
    assert [line.split(":")[0] for line in str(error.value).splitlines()[1:]] == ["  wer"]
    identity_only = [ItemSpec("u0", tmp_path / "u0.mp4", identity=tmp_path / "face.png", transcript="bin blue")]
    with pytest.raises(ValueError) as error:
        check_inputs(identity_only, chosen)
    assert [line.split(":")[0] for line in str(error.value).splitlines()[1:]] == ["  psnr, ssim"]
    check_inputs(one_reference[1:], {name: chosen[name] for name in ("psnr", "acd-i", "cpbd")})
    check_inputs([], chosen)  # nothing to score: nothing lacks


@pytest.mark.parametrize("threads", [1, 2])
def test_cli_interrupted_says_what_is_kept_and_how_to_finish(toy_metrics, toy_dirs, tmp_path, capsys, threads):
    """Ctrl-C (a KeyboardInterrupt from a metric here) ends ``talkbench evaluate`` with status 130 and a line that
    counts the journaled videos and names --resume; the resumed command completes the run."""
    gen, ref = toy_dirs
    args = ["evaluate", "--generated", str(gen), "--reference", str(ref), "--metrics", "test-mad", "--out",
            str(tmp_path / "run"), "--no-progress", "--threads", str(threads)]  # fmt: skip
    assert main([*args, "--metric-options", '{"test-mad": {"interrupt_after": 3}}']) == 130
    journaled = len((tmp_path / "run" / "rows.jsonl").read_text().splitlines())
    message = capsys.readouterr().err
    assert f"interrupted: {journaled} of 8 videos are journaled in {tmp_path / 'run'}" in message and "--resume" in message
    assert 0 < journaled < 8
    toy_metrics.CALLS.clear()
    assert main([*args, "--metric-options", '{"test-mad": {"interrupt_after": 3}}', "--resume"]) == 0
    assert "8 videos: 4 ok, 0 partial, 4 failed" in capsys.readouterr().out


def test_cli_errors_are_clear(toy_metrics, tmp_path, capsys):
    assert main(["evaluate", "--generated", str(tmp_path / "nope"), "--metrics", "test-mad", "--out", str(tmp_path / "o")]) == 2
    assert "nope: no such directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["evaluate", "--generated", str(tmp_path / "empty"), "--metrics", "tset-mad", "--out", str(tmp_path / "o")]) == 2
    assert "did you mean 'test-mad'" in capsys.readouterr().err
    assert main(["evaluate", "--generated", str(tmp_path / "empty"), "--metrics", ",", "--protocol", "synthgrid-demo",
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip (not "the protocol's metrics")
    assert "--metrics names no metric" in capsys.readouterr().err
    one = tmp_path / "one.mkv"
    one.write_bytes(b"")
    assert main(["evaluate", "--generated", str(one), "--metrics", "test-mad", "--out", str(tmp_path / "o")]) == 2
    assert f"{tmp_path / 'one.mkv'}: a file; give the folder of videos" in capsys.readouterr().err


def test_nan_is_never_written_as_zero(toy_metrics, toy_dirs, tmp_path):
    run(toy_dirs, tmp_path / "run")
    from bench.results import load_run

    _, table = load_run(tmp_path / "run")
    assert math.isnan(table.set_index("video").loc["corrupt", "test-mad"])


def test_per_speaker_breakdown_from_subfolders(toy_metrics, tmp_path):
    from harness_helpers import make_clip

    from bench.media import write_clip

    for side in ("gen", "ref"):
        for speaker, seeds in (("s1", (0, 1)), ("s2", (2,))):
            for seed in seeds:
                clip = make_clip(seed)
                if side == "gen":
                    clip = clip.with_frames((clip.frames // 2).astype("uint8"))
                write_clip(tmp_path / side / speaker / f"u{seed}.mkv", clip)
    specs = pair_directories(tmp_path / "gen", tmp_path / "ref")
    assert [(s.video, s.speaker) for s in specs] == [("s1/u0", "s1"), ("s1/u1", "s1"), ("s2/u2", "s2")]
    summary = evaluate(specs, EvalConfig(metrics=["test-mad"]), tmp_path / "run", progress=False)
    assert summary["per_speaker"]["s1"]["test-mad"]["n"] == 2 and summary["per_speaker"]["s2"]["test-mad"]["n"] == 1
    table = pd.read_csv(tmp_path / "run" / "per_video.csv")
    assert list(table["speaker"]) == ["s1", "s1", "s2"]


def test_a_setting_that_would_fail_after_scoring_is_refused_before(toy_metrics, toy_dirs, tmp_path, capsys):
    """The seed feeds only the summary's bootstrap: a negative one used to fail after every video was scored."""
    gen, ref = toy_dirs
    out = tmp_path / "run"
    assert main(["evaluate", "--generated", str(gen), "--reference", str(ref), "--metrics", "test-mad", "--seed", "-1",
                 "--out", str(out), "--no-progress"]) == 2  # fmt: skip
    assert "seed must be a non-negative integer, got -1" in capsys.readouterr().err and not out.exists()
    with pytest.raises(ValueError, match="unknown aggregation 'mean'; choose mean-over-videos, mean-over-speakers"):
        EvalConfig(metrics=["test-mad"], aggregation="mean")
    with pytest.raises(ValueError, match="unknown length policy 'audio'; choose video, min, none"):
        EvalConfig(metrics=["test-mad"], length_policy="audio")


@pytest.mark.parametrize("suffix", [".tsv", ".csv"])
def test_cli_transcripts_reach_the_items_and_mistakes_are_named(toy_metrics, toy_dirs, tmp_path, capsys, suffix):
    from bench.cli.evaluate import read_transcripts

    sep = "," if suffix == ".csv" else "\t"
    table = tmp_path / f"t{suffix}"
    table.write_text(f"utterance_id{sep}transcript\nu0{sep}bin blue at f two now\nu1{sep}lay red\n")
    assert read_transcripts(table) == {"u0": "bin blue at f two now", "u1": "lay red"}
    specs = {s.video: s for s in pair_directories(*toy_dirs, read_transcripts(table))}
    assert specs["u0"].transcript == "bin blue at f two now" and specs["u2"].transcript is None
    table.write_text(f"utterance_id{sep}transcript\nu0{sep}bin\nu0{sep}lay\n")
    gen, ref = toy_dirs
    args = ["evaluate", "--generated", str(gen), "--reference", str(ref), "--metrics", "test-mad", "--transcripts",
            str(table), "--out", str(tmp_path / "run"), "--no-progress"]  # fmt: skip
    assert main(args) == 2
    assert f"{table}: utterance 'u0' is listed twice" in capsys.readouterr().err
    table.write_text("utterance_id;transcript\nu0;bin\n")
    assert main(args) == 2
    assert f"{table}: missing columns ['transcript', 'utterance_id'] (" in capsys.readouterr().err


def test_folders_laid_out_differently_are_named_before_scoring(toy_dirs, tmp_path):
    """References in speaker folders and generated videos flat pair nothing: said at once, with an id from each side."""
    gen, ref = toy_dirs
    nested = tmp_path / "nested"
    (nested / "s1").mkdir(parents=True)
    for video in sorted(ref.iterdir())[:3]:
        (nested / "s1" / video.name).write_bytes(video.read_bytes())
    with pytest.raises(ValueError, match=r"no generated video has a reference of the same name: .* holds 'black', "
                                         r"'corrupt', \.\.\. \(7 videos\), .* holds 's1/black', 's1/corrupt', "
                                         r"\.\.\. \(3 videos\); videos pair by their path below each folder"):  # fmt: skip
        pair_directories(gen, nested)


def test_transcripts_that_name_no_video_are_refused(toy_dirs):
    """Transcripts keyed by bare utterance ids beside videos in speaker folders pair with nothing: refused at once, as
    every lip-reading score would otherwise fail on its own."""
    gen, ref = toy_dirs
    with pytest.raises(ValueError, match=r"no transcript has the id of a generated video: the transcripts name 's1/u0', "
                                         r"'s1/u1', \.\.\. \(3 transcripts\), .* holds 'black', 'corrupt'"):  # fmt: skip
        pair_directories(gen, ref, {"s1/u0": "bin blue", "s1/u1": "lay red", "s1/u2": "set white"})
    assert pair_directories(gen, ref, {"u0": "bin blue", "elsewhere": "x"})[4].transcript == "bin blue"


def test_hidden_files_are_not_videos(toy_dirs):
    """A folder copied from a Mac holds a ``._`` resource copy beside every video: those and hidden folders are no
    videos of the user's, and pair with nothing (they used to be rows failing as unreadable media)."""
    gen, ref = toy_dirs
    before = [s.video for s in pair_directories(gen, ref)]
    (gen / "._u0.mkv").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (gen / ".ipynb_checkpoints").mkdir()
    (gen / ".ipynb_checkpoints" / "u1.mkv").write_bytes((gen / "u1.mkv").read_bytes())
    assert [s.video for s in pair_directories(gen, ref)] == before


def test_two_specs_of_one_video_id_are_refused(toy_metrics, toy_dirs, tmp_path):
    """Rows and the journal are keyed by the id: a second spec of one id would pass as already done on resume."""
    from bench.evaluate import ItemSpec

    gen, ref = toy_dirs
    specs = [ItemSpec("u0", gen / "u0.mkv", ref / "u0.mkv"), ItemSpec("u0", gen / "u1.mkv", ref / "u1.mkv")]
    with pytest.raises(ValueError, match="video id\\(s\\) 'u0' given more than once"):
        evaluate(specs, EvalConfig(metrics=["test-mad"]), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_the_driving_audio_is_the_generated_videos_own_soundtrack(tmp_path):
    """As syncnet_python reads the file it scores: a video dubbed with other audio is scored against that audio, not
    against the soundtrack of the reference it is named after; a generated file without audio, or with digital silence,
    takes the reference's."""
    import numpy as np
    from harness_helpers import make_clip

    from bench.evaluate import ItemSpec
    from bench.media import write_clip

    identity_video, dubbing = make_clip(0), make_clip(3)
    write_clip(tmp_path / "ref.mkv", identity_video)
    write_clip(tmp_path / "dubbed.mkv", identity_video.with_audio(dubbing.audio))
    write_clip(tmp_path / "silent.mkv", identity_video.with_audio(None))
    config = EvalConfig(metrics=["psnr"])
    dubbed = ItemSpec("u0", tmp_path / "dubbed.mkv", tmp_path / "ref.mkv").load(config)
    np.testing.assert_array_equal(dubbed.audio, dubbing.audio)
    assert not np.allclose(dubbed.audio, identity_video.audio)
    silent = ItemSpec("u0", tmp_path / "silent.mkv", tmp_path / "ref.mkv").load(config)
    np.testing.assert_array_equal(silent.audio, identity_video.audio)
    write_clip(tmp_path / "zeros.mkv", identity_video.with_audio(np.zeros_like(dubbing.audio)))  # a placeholder track
    zeros = ItemSpec("u0", tmp_path / "zeros.mkv", tmp_path / "ref.mkv").load(config)
    np.testing.assert_array_equal(zeros.audio, identity_video.audio)
    alone = ItemSpec("u0", tmp_path / "dubbed.mkv").load(config)
    np.testing.assert_array_equal(alone.audio, dubbing.audio)


def test_identity_images_pair_by_name_and_every_generated_video_needs_one(toy_dirs, tmp_path):
    """``--identity``: each video's identity image comes from the folder (an image, or a video's first frame); a
    generated video without one is refused up front rather than given its reference's first frame instead."""
    import numpy as np
    from skimage import io as skio

    from bench.media import MediaError

    gen, ref = toy_dirs
    faces = tmp_path / "faces"
    faces.mkdir()
    names = [p.stem for p in gen.iterdir()]
    for i, name in enumerate(sorted(names)):
        skio.imsave(faces / f"{name}.png", np.full((8, 8, 3), 10 * i, np.uint8), check_contrast=False)
    specs = {s.video: s for s in pair_directories(gen, ref, identity=faces)}
    assert specs["u1"].identity == faces / "u1.png" and specs["only_reference"].identity is None
    item = specs["u1"].load(EvalConfig(metrics=["psnr"]))
    np.testing.assert_array_equal(item.identity, np.full((8, 8, 3), 10 * sorted(names).index("u1"), np.uint8))

    (faces / "u2.png").unlink()
    with pytest.raises(ValueError, match=r"1 of 7 generated videos have no identity image of the same name in .*faces: 'u2'"):
        pair_directories(gen, ref, identity=faces)
    (faces / "u2.png").write_bytes(b"not a png")
    with pytest.raises(MediaError, match=r"u2.png: not a readable identity image"):
        next(s for s in pair_directories(gen, ref, identity=faces) if s.video == "u2").load(EvalConfig(metrics=["psnr"]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty: holds no identity image \(\.png, \.jpg"):
        pair_directories(gen, ref, identity=tmp_path / "empty")


def test_acd_i_reads_the_identity_folder_on_real_clips(grid_dir, tmp_path):
    """``talkbench evaluate --identity``: a real GRID clip is close to its own speaker's face (the default, its
    reference's first frame, gives the same value) and far from another speaker's."""
    from skimage import io as skio

    from bench.media import read_clip, write_clip

    clip = read_clip(grid_dir / "bbaf2n.mpg")
    other = read_clip(grid_dir / "swwp2s.mpg")
    for folder, frames in (("gen", clip.frames[20:45]), ("ref", clip.frames)):
        (tmp_path / folder).mkdir()
        write_clip(tmp_path / folder / "bbaf2n.mkv", clip.with_frames(frames))
    values = {}
    for name, face in (("own", clip.frames[0]), ("other", other.frames[0]), ("default", None)):
        options = []
        if face is not None:
            (tmp_path / name).mkdir()
            skio.imsave(tmp_path / name / "bbaf2n.png", face)
            options = ["--identity", str(tmp_path / name)]
        args = ["evaluate", "--generated", str(tmp_path / "gen"), "--reference", str(tmp_path / "ref"), "--metrics",
                "acd-i", "--out", str(tmp_path / f"run-{name}"), "--no-progress", "--threads", "1", *options]  # fmt: skip
        assert main(args) == 0
        values[name] = json.loads((tmp_path / f"run-{name}" / "summary.json").read_text())["metrics"]["acd-i"]["mean"]
    assert values["default"] == values["own"]  # PNG is lossless: the same pixels as the reference's first frame
    assert values["own"] < 0.3 and values["other"] > 0.8, values  # measured 0.200 and 0.937


def test_a_video_read_at_another_frame_rate_is_recorded(tmp_path, capsys):
    """A 30 fps generated video is read at the run's 25 fps by timestamps; its row and the command's summary say so,
    and videos already at 25 fps add no column."""
    import numpy as np
    from harness_helpers import make_clip

    from bench.media import Clip, write_clip

    for name, fps in (("u0", 30.0), ("u1", 25.0)):
        clip = make_clip(int(fps), frames=30)
        write_clip(tmp_path / "ref" / f"{name}.mkv", clip)
        write_clip(tmp_path / "gen" / f"{name}.mkv", Clip(np.ascontiguousarray(clip.frames), fps, clip.audio, 16000))
    args = ["evaluate", "--generated", str(tmp_path / "gen"), "--reference", str(tmp_path / "ref"), "--metrics", "psnr",
            "--no-progress", "--threads", "1", "--out"]  # fmt: skip
    assert main([*args, str(tmp_path / "both")]) == 0
    assert "generated videos read at 25 fps from 30 fps (converted by timestamps): 1; per video: column " \
           "source_fps_generated" in capsys.readouterr().out  # fmt: skip
    rows = pd.read_csv(tmp_path / "both" / "per_video.csv").set_index("video")
    assert rows.loc["u0", "source_fps_generated"] == 30.0 and math.isnan(rows.loc["u1", "source_fps_generated"])
    assert "source_fps_reference" not in rows.columns
    (tmp_path / "gen" / "u0.mkv").unlink()
    assert main([*args, str(tmp_path / "native"), "--reference", str(tmp_path / "gen")]) == 0
    assert "source_fps" not in (tmp_path / "native" / "per_video.csv").read_text()


def test_a_set_level_nan_is_recorded_as_a_failure(toy_metrics, monkeypatch):
    """The contract of per-item scores holds for set-level values too: NaN only on a failed score, with a reason."""
    import numpy as np

    from bench.evaluate import Evaluator
    from bench.media import Clip
    from metrics import Item, Score

    evaluator = Evaluator(["test-moments"])
    evaluator.add(Item(Clip(np.full((4, 8, 8, 3), 9, np.uint8)), video_id="u0"))
    monkeypatch.setattr(type(evaluator.set_metrics["test-moments"]), "compute", lambda self: Score(math.nan, 4))
    result = evaluator.set_results()["test-moments"]
    assert result["status"] == "failed" and result["value"] is None
    assert result["reason"] == "test-moments computed no number (NaN) from 4 frames"
