"""Small corpora in the GRID, TCD-TIMIT, LRS2 and folder layouts, built in temporary folders.

GRID layouts hold copies of the real clips in ../shared/data/grid; the others are written from a tiny synthgrid
corpus (2 speakers x 2 sentences), so every adapter runs on real files end to end.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import scipy.io.wavfile

from bench.data.synthetic import Corpus, synthesize_corpus
from bench.media import Clip, read_clip, write_clip


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """A synthgrid corpus: speakers s01, s02 with 2 clips each."""
    return synthesize_corpus(tmp_path_factory.mktemp("synth"), speakers=2, sentences=2, seed=3, workers=1, progress=False)


@pytest.fixture(scope="session")
def synth_clips(synth: Corpus) -> list[Clip]:
    return [read_clip(rec.path, fps=None, sample_rate=None) for rec in synth]


@pytest.fixture()
def grid_layout(tmp_path: Path, grid_dir: Path) -> Path:
    """GRID as distributed: s1/<code>.mpg with s1/align/, s2/video/mpg_6000/ with align/s2/, s3 without aligns."""
    root = tmp_path / "GRID"
    for code, video_dir, align_dir in (
        ("bbaf2n", "s1", "s1/align"),
        ("swwp2s", "s2/video/mpg_6000", "align/s2"),
        ("lbax4n", "s3", None),
    ):
        (root / video_dir).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(grid_dir / f"{code}.mpg", root / video_dir / f"{code}.mpg")
        if align_dir:
            (root / align_dir).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(grid_dir / f"{code}.align", root / align_dir / f"{code}.align")
    return root


@pytest.fixture()
def tcd_layout(tmp_path: Path, synth: Corpus, synth_clips: list[Clip]) -> Path:
    """TCD-TIMIT: volunteers/01M with transcripts, lipspeakers/Lipspkr1 with separate wav audio."""
    root = tmp_path / "TCD-TIMIT"
    places = [("volunteers/01M", "sa1"), ("volunteers/01M", "si1004"), ("lipspeakers/Lipspkr1", "sa1"),
              ("lipspeakers/Lipspkr1", "sx2")]  # fmt: skip
    for (speaker, sentence), rec, clip in zip(places, synth, synth_clips, strict=True):
        folder = root / speaker / "Clips" / "straightcam"
        folder.mkdir(parents=True, exist_ok=True)
        write_clip(folder / f"{sentence}.mp4", clip)
        if speaker.startswith("volunteers"):
            (folder / f"{sentence}.txt").write_text(f"0 46797 {rec.transcript.capitalize()}.\n")
        else:
            scipy.io.wavfile.write(folder / f"{sentence}.wav", clip.sample_rate, clip.audio)
    return root


@pytest.fixture()
def lrs2_layout(tmp_path: Path, synth: Corpus, synth_clips: list[Clip]) -> Path:
    """LRS2: mvlrs_v1/main/<id>/<n>.mp4 + .txt, one pretrain video, and the official lists."""
    root = tmp_path / "LRS2"
    entries = ["5535415699068794046/00001", "5535415699068794046/00002", "6330311066473698535/00011",
               "6330311066473698535/00017"]  # fmt: skip
    for entry, rec, clip in zip(entries, synth, synth_clips, strict=True):
        video = root / "mvlrs_v1" / "main" / f"{entry}.mp4"
        video.parent.mkdir(parents=True, exist_ok=True)
        write_clip(video, clip)
        video.with_suffix(".txt").write_text(f"Text:  {rec.transcript.upper()}\nConf:  5\n")
    pre = root / "mvlrs_v1" / "pretrain" / "5535415699068794046" / "00003.mp4"
    pre.parent.mkdir(parents=True)
    write_clip(pre, synth_clips[0])
    words = "".join(f"{w.upper()} {s:.2f} {e:.2f} 0.9\n" for w, s, e in synth.records[0].words)
    text = f"Text:  {synth.records[0].transcript.upper()}\nConf:  3\n\nWORD START END ASDSCORE\n{words}"
    pre.with_suffix(".txt").write_text(text)
    (root / "train.txt").write_text("\n".join(entries[:2]) + "\n")
    (root / "val.txt").write_text(entries[2] + "\n")
    (root / "test.txt").write_text(f"{entries[3]} NF\n")
    pairs = root / "evaluation" / "test_filelists" / "lrs2.txt"
    pairs.parent.mkdir(parents=True)
    pairs.write_text(f"{entries[3]} {entries[0]}\n{entries[2]} {entries[1]}\n")
    return root


@pytest.fixture()
def folder_layout(tmp_path: Path, synth: Corpus, synth_clips: list[Clip]) -> Path:
    """A user's folder: alice/take1.mkv, alice/take2.mkv, bob.mp4 and transcripts.tsv."""
    root = tmp_path / "mine"
    names = ["alice/take1.mkv", "alice/take2.mkv", "bob.mp4"]
    for name, clip in zip(names, synth_clips, strict=False):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_clip(root / name, clip)
    (root / "transcripts.tsv").write_text("utterance_id\ttranscript\tspeaker\nalice_take1\tHello  World\t\nbob\tbye\tbob-x\n")
    return root
