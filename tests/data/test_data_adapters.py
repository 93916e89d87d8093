"""Dataset adapters on small corpora in each dataset's layout (real GRID clips, synthgrid clips elsewhere)."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import numpy as np
import pytest

from bench.data import folder, grid, grid_lombard, lrs2, synthgrid, tcd_timit
from bench.data.records import UtteranceRecord
from bench.data.synthetic import Corpus
from bench.media import read_clip, write_clip

GRID_MANIFEST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "grid" / "manifest.tsv"


def _manifest() -> dict[str, dict[str, str]]:
    if not GRID_MANIFEST.is_file():
        pytest.skip(f"real GRID clips not found at {GRID_MANIFEST.parent}")
    with open(GRID_MANIFEST, newline="") as f:
        return {row["utterance_id"]: row for row in csv.DictReader(f, delimiter="\t")}


def test_grid_layouts_transcripts_and_word_timings(grid_layout: Path) -> None:
    records = {r.utterance_id: r for r in grid.scan(grid_layout)}
    assert sorted(records) == ["s1_bbaf2n", "s2_swwp2s", "s3_lbax4n"]
    truth = _manifest()
    assert records["s1_bbaf2n"].transcript == truth["bbaf2n"]["transcript"] == "bin blue at f two now"
    assert records["s2_swwp2s"].transcript == truth["swwp2s"]["transcript"]  # nested video/mpg_6000 + align/s2
    assert records["s2_swwp2s"].video_path == grid_layout / "s2/video/mpg_6000/swwp2s.mpg"
    assert records["s3_lbax4n"].transcript is None and records["s3_lbax4n"].word_timings is None
    words = records["s1_bbaf2n"].word_timings
    assert words[0] == ("bin", 23750 / 25000, 29500 / 25000) and words[-1] == ("now", 47250 / 25000, 53000 / 25000)
    assert [w for w, _, _ in words] == truth["bbaf2n"]["transcript"].split()
    assert records["s1_bbaf2n"].speaker == "s1" and records["s1_bbaf2n"].audio_path is None


def test_grid_code_decoding_matches_the_real_transcripts() -> None:
    for code, row in _manifest().items():
        assert grid.decode_code(code) == row["transcript"]
    for bad in ("bbaf2", "xbaf2n", "bba22n"):
        with pytest.raises(ValueError, match="GRID"):
            grid.decode_code(bad)


def test_grid_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}: no GRID speaker folders"):
        grid.scan(tmp_path)
    with pytest.raises(FileNotFoundError, match="GRID root folder not found"):
        grid.scan(tmp_path / "absent")
    (tmp_path / "s4").mkdir()
    with pytest.raises(FileNotFoundError, match="hold no videos"):
        grid.scan(tmp_path)
    bad = tmp_path / "bad.align"
    bad.write_text("0 100 sil\n100 x bin\n")
    with pytest.raises(ValueError, match=r"bad.align:2: expected 'start end word'"):
        grid.read_align(bad)


def test_tcd_timit_layout(tcd_layout: Path, synth: Corpus) -> None:
    records = {r.utterance_id: r for r in tcd_timit.scan(tcd_layout)}
    assert sorted(records) == ["01M_sa1", "01M_si1004", "Lipspkr1_sa1", "Lipspkr1_sx2"]
    assert records["01M_sa1"].transcript == synth.records[0].transcript  # "0 46797 Words." parsed
    assert records["01M_sa1"].meta["group"] == "volunteers" and records["01M_sa1"].audio_path is None
    assert records["Lipspkr1_sx2"].audio_path == tcd_layout / "lipspeakers/Lipspkr1/Clips/straightcam/sx2.wav"
    assert records["Lipspkr1_sa1"].transcript is None and records["Lipspkr1_sa1"].speaker == "Lipspkr1"
    only = tcd_timit.scan(tcd_layout, groups=("volunteers",))
    assert {r.speaker for r in only} == {"01M"}
    (tcd_layout / "volunteers" / "02M").mkdir()
    with pytest.raises(FileNotFoundError, match=r"02M: expected a Clips/straightcam/ folder"):
        tcd_timit.scan(tcd_layout)


def test_lrs2_main_pretrain_lists_and_pairs(lrs2_layout: Path, synth: Corpus) -> None:
    main = lrs2.scan(lrs2_layout)
    assert [r.utterance_id for r in main][:2] == ["5535415699068794046_00001", "5535415699068794046_00002"]
    assert main[0].speaker == "5535415699068794046" and main[0].transcript == synth.records[0].transcript
    assert lrs2.scan(lrs2_layout / "mvlrs_v1") == main  # root may be mvlrs_v1 itself
    pre = lrs2.scan(lrs2_layout, subset="pretrain")[0]
    assert [w for w, _, _ in pre.word_timings] == synth.records[0].transcript.split()
    assert pre.word_timings[0][1] == pytest.approx(round(synth.records[0].words[0][1], 2))
    test = lrs2.list_records(lrs2_layout, "test.txt")  # "<entry> NF": second token ignored
    assert [r.utterance_id for r in test] == ["6330311066473698535_00017"]
    pairs = lrs2.pair_records(lrs2_layout, "evaluation/test_filelists/lrs2.txt")
    assert pairs[0].utterance_id == "6330311066473698535_00017__5535415699068794046_00001"
    assert pairs[0].video_path.name == "00017.mp4" and pairs[0].audio_path.name == "00001.mp4"
    (lrs2_layout / "mvlrs_v1/main/6330311066473698535/00017.mp4").unlink()
    with pytest.raises(FileNotFoundError, match=r"test.txt: 1 listed videos are missing"):
        lrs2.list_records(lrs2_layout, "test.txt")
    with pytest.raises(FileNotFoundError, match=r"lrs2.txt:1: .*00017.mp4 does not exist"):
        lrs2.pair_records(lrs2_layout, "evaluation/test_filelists/lrs2.txt")
    with pytest.raises(FileNotFoundError, match="not an LRS2 root"):
        lrs2.scan(lrs2_layout / "evaluation")


def test_lombard_grid_names_and_views(tmp_path: Path, synth_clips: list) -> None:
    for name in ("s2_l_bbim3a", "s2_p_bbim3a", "s30_p_pwaz9s"):
        (tmp_path / "front").mkdir(exist_ok=True)
        write_clip(tmp_path / "front" / f"{name}.mov", synth_clips[0])
    records = grid_lombard.scan(tmp_path)
    assert [r.utterance_id for r in records] == ["s2_l_bbim3a", "s2_p_bbim3a", "s30_p_pwaz9s"]
    assert records[0].transcript == "bin blue in m three again" and records[0].meta["condition"] == "lombard"
    assert records[2].transcript == "place white at z nine soon" and records[2].speaker == "s30"
    assert [r.utterance_id for r in grid_lombard.scan(tmp_path, conditions=("plain",))] == ["s2_p_bbim3a", "s30_p_pwaz9s"]
    with pytest.raises(FileNotFoundError, match="no side/ folder"):
        grid_lombard.scan(tmp_path, view="side")
    write_clip(tmp_path / "front" / "take1.mov", synth_clips[0])
    with pytest.raises(ValueError, match=r"take1.mov: Lombard GRID video names look like"):
        grid_lombard.scan(tmp_path)


def test_folder_of_user_videos(folder_layout: Path) -> None:
    records = {r.utterance_id: r for r in folder.scan(folder_layout)}
    assert sorted(records) == ["alice_take1", "alice_take2", "bob"]
    assert records["alice_take1"].speaker == "alice" and records["alice_take1"].transcript == "hello world"
    assert records["alice_take2"].transcript is None
    assert records["bob"].speaker == "bob-x" and records["bob"].transcript == "bye"
    with open(folder_layout / "transcripts.tsv", "a") as f:
        f.write("carol\thi\t\n")
    with pytest.raises(ValueError, match=r"transcripts.tsv: lists utterances with no video: \['carol'\]"):
        folder.scan(folder_layout)


def test_synthgrid_adapter_and_record_contract(synth: Corpus) -> None:
    records = synthgrid.scan(synth.root)
    assert [r.utterance_id for r in records] == [r.utterance_id for r in synth]
    assert records[0].word_timings == synth.records[0].words
    assert records[0].meta["blinks"] == [list(b) for b in synth.records[0].blinks]
    clip = read_clip(records[0].video_path, fps=None, sample_rate=None)
    assert np.array_equal(clip.frames, synth.clip(0).frames)
    assert pickle.loads(pickle.dumps(records[0])) == records[0]
    with pytest.raises(TypeError):
        records[0].meta["blinks"] = []  # type: ignore[index]
    with pytest.raises(ValueError, match="not a safe file name"):
        UtteranceRecord("s1/bbaf2n", "s1", "grid", Path("x.mpg"))
