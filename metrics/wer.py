"""WER and CER of LipNet's reading of the generated mouth, against the GRID transcript (GRID protocols only).

Pipeline as VIPL LipNet-PyTorch (https://github.com/VIPL-Audio-Visual-Speech-Understanding/LipNet-PyTorch,
``dataset.py``, ``main.py``, ``demo.py``): 128x64 mouth crops in BGR order (``cv2.imread``), frames without a face
left out (as ``demo.py``), zero-padded to 75 frames, divided by 255; greedy CTC decoding (argmax per frame, repeats
collapsed, blanks (class 0) dropped, repeated spaces collapsed, stripped); per sentence WER = word edit distance /
reference words and CER = character edit distance / reference characters (``editdistance`` on ``split(' ')`` words
and on strings); transcripts upper-cased, GRID ``sil``/``sp`` excluded by the caller.

Deviations: mouth crops come from :func:`bench.faces.mouth_crops` (dlib landmarks, LipNet's mouth-width scaling)
instead of VIPL's face-alignment warp; clips longer than 75 frames are read whole rather than refused. LipNet's
paper decodes with a beam search and a GRID spelling model; VIPL's reported 13.3% / 4.6% WER use greedy decoding.

LipNet trained on GRID does not transfer to other corpora (LipNet-PyTorch#19, #30), so an item whose ``dataset``
is not in ``allowed_datasets`` (default ``("grid",)``) is refused with a reason, never scored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from bench.media import Clip
from metrics import variants
from metrics.base import Item, Metric, MetricError, Need, Score
from metrics.networks.lipnet import BLANK, FRAMES, HEIGHT, LETTERS, WIDTH, LipNet, build_lipnet

SPLITS = {"unseen": "lipnet-grid-unseen", "overlap": "lipnet-grid-overlap"}
_NETWORKS: dict[tuple[str, str, str], LipNet] = {}
_DROPPED = re.compile(r"[.,!?;:\"]")


def edit_distance(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1) between two sequences."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def word_error_rate(hypothesis: str, reference: str) -> float:
    """Word edit distance / number of reference words (may exceed 1 with insertions)."""
    words = reference.split()
    if not words:
        raise ValueError("WER needs a reference with at least one word")
    return edit_distance(hypothesis.split(), words) / len(words)


def char_error_rate(hypothesis: str, reference: str) -> float:
    """Character edit distance (spaces included) / number of reference characters."""
    if not reference:
        raise ValueError("CER needs a non-empty reference")
    return edit_distance(hypothesis, reference) / len(reference)


def normalize_transcript(text: str) -> str:
    """Upper case, punctuation dropped, single spaces; raises ``ValueError`` for characters LipNet cannot spell."""
    words = _DROPPED.sub("", text).upper().split()
    out = " ".join(words)
    bad = sorted(set(out) - set(LETTERS))
    if bad:
        raise ValueError(f"transcript {text!r} has characters outside LipNet's alphabet (A-Z, space): {bad}")
    return out


def greedy_ctc_decode(log_probs: torch.Tensor) -> str:
    """Text of per-frame class scores ``[T, 28]``: argmax, collapse repeats, drop blanks, collapse spaces."""
    best = log_probs.argmax(-1).tolist()
    out: list[str] = []
    previous = -1
    for index in best:
        if index != previous and index != BLANK:
            char = LETTERS[index - 1]
            if not (char == " " and out and out[-1] == " "):
                out.append(char)
        previous = index
    return "".join(out).strip()


def lipnet_input(mouths: np.ndarray, frames: int = FRAMES) -> torch.Tensor:
    """``[1, 3, max(T, frames), 64, 128]`` float32: RGB mouth crops ``[T, 64, 128, 3]`` to BGR / 255, zero-padded."""
    if mouths.ndim != 4 or mouths.shape[1:] != (HEIGHT, WIDTH, 3):
        raise ValueError(f"mouth crops must be [T, {HEIGHT}, {WIDTH}, 3], got {mouths.shape}")
    video = np.zeros((max(len(mouths), frames), HEIGHT, WIDTH, 3), np.float32)
    video[: len(mouths)] = mouths[..., ::-1] / 255.0
    return torch.from_numpy(video).permute(3, 0, 1, 2).unsqueeze(0)


VARIANTS: dict[str, dict[str, Any]] = {
    "wer": {"unit": "word"},
    "cer": {"unit": "char"},
    "wer-overlap": {"unit": "word", "split": "overlap"},
    "cer-overlap": {"unit": "char", "split": "overlap"},
}


@variants(VARIANTS)
class LipNetWER(Metric):
    """LipNet word (``wer``) or character (``cer``) error rate of the generated clip; lower is better.

    Input: ``generated.frames`` uint8 ``[T, H, W, 3]`` at 25 fps, ``transcript`` (GRID words), ``dataset`` in
    ``allowed_datasets``. ``split`` picks the VIPL checkpoint: ``"unseen"`` (trained without speakers s1, s2, s20,
    s22) or ``"overlap"`` (all speakers, 255 sentences each held out). Needs ``lipnet-grid-unseen`` or
    ``lipnet-grid-overlap`` from the weights manager. The decoded text is memoised on the clip, so ``wer`` and
    ``cer`` share one LipNet pass.

    Example:
        >>> round(word_error_rate("BIN BLUE AT F TWO NOW", "BIN BLUE AT F TWO SOON"), 4)
        0.1667
    """

    name: ClassVar[str] = "wer"
    higher_is_better: ClassVar[bool] = False
    needs: ClassVar[frozenset[Need]] = frozenset({Need.TRANSCRIPT})
    score_range: ClassVar[tuple[float | None, float | None]] = (0.0, None)

    def __init__(
        self,
        unit: Literal["word", "char"] = "word",
        split: Literal["unseen", "overlap"] = "unseen",
        allowed_datasets: tuple[str, ...] = ("grid",),
        device: str = "cpu",
    ) -> None:
        super().__init__(device)
        if unit not in ("word", "char") or split not in SPLITS:
            raise ValueError(f"unit must be 'word' or 'char' and split one of {sorted(SPLITS)}, got {unit!r}, {split!r}")
        self.unit, self.split = unit, split
        self.weights = (SPLITS[split],)  # only the checkpoint of the chosen split
        self.allowed_datasets = tuple(d.lower() for d in allowed_datasets)

    def score(self, item: Item) -> Score:
        """Error rate of LipNet's reading of ``item.generated`` against ``item.transcript``."""
        if item.dataset.lower() not in self.allowed_datasets:
            raise MetricError(
                f"{item.video_id}: {self.name} is defined on GRID protocols only (LipNet trained on GRID does not "
                f"transfer to other data); this item's dataset is {item.dataset or 'not declared'!r}, allowed: "
                f"{', '.join(self.allowed_datasets)} (option allowed_datasets; declare GRID videos with a GRID --protocol "
                f"or --dataset grid in talkbench evaluate, dataset='grid' in Item or pair_directories from Python)"
            )
        try:
            reference = normalize_transcript(item.transcript or "")
        except ValueError as exc:
            raise MetricError(f"{item.video_id}: {exc}") from exc
        if not reference:
            raise MetricError(f"{item.video_id}: empty transcript")
        text, frames, missing = self.transcribe(item.generated)
        rate = word_error_rate if self.unit == "word" else char_error_rate
        return Score(rate(text, reference), frames, extras={f"{self.name}_frames_without_face": float(missing)})

    def transcribe(self, clip: Clip) -> tuple[str, int, int]:
        """LipNet's greedy reading of ``clip``, the frames read, and the frames left out for want of a face."""
        if abs(clip.fps - 25.0) > 1e-6:
            raise MetricError(f"{clip.name}: LipNet reads 25 fps video, got {clip.fps:g} fps (read it at 25 fps)")
        from bench import faces, weights

        name = SPLITS[self.split]
        digest = weights.file_hash(name)

        def compute() -> tuple[str, int, int]:
            mouths, found = faces.mouth_crops(clip, width=WIDTH, height=HEIGHT)
            if not found.any():
                raise MetricError(f"{clip.name}: no face found in any frame, so no mouth crops for LipNet")
            net = _network(name, digest, self.device)
            with torch.no_grad():
                log_probs = net(lipnet_input(mouths[found]).to(self.device))[0]
            return greedy_ctc_decode(log_probs.cpu()), int(found.sum()), int((~found).sum())

        return clip.memo(("lipnet-greedy", name, digest), compute)


def _network(name: str, digest: str, device: str) -> LipNet:
    from bench import weights

    key = (name, digest, device)
    if key not in _NETWORKS:
        _NETWORKS[key] = build_lipnet(weights.load_state_dict(name), device)
    return _NETWORKS[key]
