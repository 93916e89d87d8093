"""Adapter over the built-in synthetic corpus "synthgrid" (:mod:`bench.data.synthetic`).

``root=None`` means the cached demo corpus with default settings (8 speakers x 12 sentences, 128x128, 25 fps,
16 kHz), generated on first use; a folder written by ``talkbench data synth --out DIR`` can be given instead.
Clips are already face-centred at 128x128, so synthgrid protocols use crop mode ``none``.
"""

from __future__ import annotations

from pathlib import Path

from bench.data.datasets import Adapter
from bench.data.records import UtteranceRecord

DATASET = "synthgrid"


def scan(root: str | Path | None = None, workers: int | None = None) -> list[UtteranceRecord]:
    """Every clip of the corpus at ``root`` (None: the cached demo corpus, generated if absent)."""
    from bench.data.synthetic import demo_corpus, load_corpus

    corpus = demo_corpus(workers=workers) if root is None else load_corpus(root)
    return [
        UtteranceRecord(
            utterance_id=rec.utterance_id, speaker=rec.speaker, dataset=DATASET, video_path=rec.path,
            transcript=rec.transcript, word_timings=rec.words,
            meta={"blinks": [list(b) for b in rec.blinks], "num_frames": rec.num_frames,
                  "truth_path": str(rec.truth_path), "landmarks_path": str(rec.landmarks_path)},
        )
        for rec in corpus
    ]  # fmt: skip


ADAPTER = Adapter(DATASET, scan, needs_root=False)
