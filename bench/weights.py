"""The weights manager: every pretrained file a metric needs, where it comes from, and its checksum.

Files live in ``$TALKBENCH_WEIGHTS`` (default ``~/.cache/talkbench/weights``) under their upstream file names.
``talkbench weights fetch NAME`` downloads one from its authors' address into a temporary file, checks its
SHA-256 and renames it into place in one step, so a half-downloaded or corrupted file is never used.
``talkbench weights fetch --from DIR`` imports files obtained by hand (same checks). Loading goes through
:func:`load_state_dict`, which reads safetensors or ``torch.load(weights_only=True)`` only: no pickled code runs.

A file whose full SHA-256 is not yet established (``sha256=None`` in :data:`TABLE`) is never passed off as
verified: :func:`verify` refuses it, and :func:`fetch` / :func:`import_from` accept it only when asked to with
``allow_unverified=True``, printing the hash to record.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import pickle
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.io import atomic_path, sha256_file

ENV_VAR = "TALKBENCH_WEIGHTS"
_CHUNK = 1 << 20


class WeightsMissingError(FileNotFoundError):
    """A pretrained file is not in the weights directory; the message says how to get it."""


class WeightsChecksumError(ValueError):
    """A pretrained file does not have the recorded SHA-256 (or size)."""


class WeightsUnverifiableError(ValueError):
    """No SHA-256 is recorded for this file yet, so it cannot be verified."""


@dataclass(frozen=True)
class WeightFile:
    """One pretrained file.

    Attributes:
        name: the talkbench name (``talkbench weights fetch NAME``).
        filename: the upstream file name, kept in the cache.
        url: the official download address, or None when the file can only be imported with ``--from``.
        sha256: the full SHA-256 of the official file, or None when not yet established (see ``notes``).
        size: the file size in bytes, when known.
        licence: the licence under which the authors distribute it.
        notes: provenance of the URL and checksum, caveats.

    """

    name: str
    filename: str
    url: str | None
    sha256: str | None
    size: int | None
    licence: str
    notes: str = ""


_LIPNET = "https://github.com/VIPL-Audio-Visual-Speech-Understanding/LipNet-PyTorch/raw/master/pretrain/"
_LIPNET_UNSEEN = "LipNet_unseen_loss_0.44562849402427673_wer_0.1332580699113564_cer_0.06796452465503355.pt"
_LIPNET_OVERLAP = "LipNet_overlap_loss_0.07664558291435242_wer_0.04644484056248762_cer_0.019676921477851092.pt"
_NO_HASH = "Full SHA-256 not established yet: verify refuses it until one is recorded here."

TABLE: dict[str, WeightFile] = {
    w.name: w
    for w in [
        WeightFile(
            "syncnet-v2",
            "syncnet_v2.model",
            "https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",
            "961e8696f888fce4f3f3a6c3d5b3267cf5b343100b238e79b2659bff2c605442",
            54_573_114,
            "syncnet_python (joonson) is MIT; the checkpoint carries no separate licence statement",
            "joonson/syncnet_python download_model.sh; a pickled state dict of class S "
            "(SyncNetInstance.loadParameters copies its items), read with weights_only=True. "
            "SHA-256 and size as recorded by several independent pipelines pinning this file.",
        ),
        WeightFile(
            "pt-inception-fid",
            "pt_inception-2015-12-05-6726825d.pth",
            "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
            "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
            95_628_359,
            "Apache-2.0 (pytorch-fid); weights ported from TensorFlow's FID Inception",
            "pytorch-fid FID_WEIGHTS_URL; torch hub names carry the first 8 hex digits of the SHA-256.",
        ),
        WeightFile(
            "lipnet-grid-unseen",
            _LIPNET_UNSEEN,
            _LIPNET + _LIPNET_UNSEEN,
            None,
            None,
            "MIT (VIPL LipNet-PyTorch)",
            "VIPL-Audio-Visual-Speech-Understanding/LipNet-PyTorch pretrain/ (README `weights` option); "
            "unseen-speaker split (s1, s2, s20, s22 held out), WER 13.3%. " + _NO_HASH,
        ),
        WeightFile(
            "lipnet-grid-overlap",
            _LIPNET_OVERLAP,
            _LIPNET + _LIPNET_OVERLAP,
            None,
            None,
            "MIT (VIPL LipNet-PyTorch)",
            "VIPL LipNet-PyTorch pretrain/; overlapped-speaker split, WER 4.6%. " + _NO_HASH,
        ),
        WeightFile(
            "openface-nn4.small2",
            "openface.pth",
            "https://github.com/thnkim/OpenFacePytorch/raw/master/openface.pth",
            None,
            None,
            "Apache-2.0 (OpenFace nn4.small2.v1, CMU); PyTorch port by thnkim/OpenFacePytorch",
            "State dict of thnkim's netOpenFace (converted from nn4.small2.v1.t7; the original .t7 is at "
            "https://storage.cmusatyalab.org/openface-models/nn4.small2.v1.t7 and is not a torch state dict). "
            "Another port, TwoBranchDracaena/OpenFace-PyTorch, is only on Dropbox/BaiduPan: import it with "
            "--from. " + _NO_HASH,
        ),
        WeightFile(
            "alexnet-lpips",
            "alexnet-owt-7be5be79.pth",
            "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            "7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
            None,
            "BSD-3-Clause (torchvision)",
            "torchvision AlexNet_Weights.IMAGENET1K_V1, the LPIPS 'alex' backbone; the learned linear layers "
            "ship inside the lpips package. SHA-256 from a pipeline pinning this file; prefix matches the name.",
        ),
        WeightFile(
            "vgg16-lpips",
            "vgg16-397923af.pth",
            "https://download.pytorch.org/models/vgg16-397923af.pth",
            "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
            553_433_881,
            "BSD-3-Clause (torchvision)",
            "torchvision VGG16_Weights.IMAGENET1K_V1, the LPIPS 'vgg' backbone; SHA-256 and size as recorded "
            "by several pipelines pinning this file.",
        ),
        WeightFile(
            "vgg19",
            "vgg19-dcbb9e9d.pth",
            "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
            None,
            None,
            "BSD-3-Clause (torchvision)",
            "torchvision VGG19_Weights.IMAGENET1K_V1, the perceptual-loss network of the baselines "
            "(baselines/_perceptual.py; used in training, not by any metric). The torch hub name carries the "
            "first 8 hex digits of the SHA-256 (dcbb9e9d). " + _NO_HASH,
        ),
        WeightFile(
            "deepspeech2-librispeech",
            "librispeech_pretrained_v2.pth",
            "https://github.com/SeanNaren/deepspeech.pytorch/releases/download/v2.0/librispeech_pretrained_v2.pth",
            None,
            None,
            "MIT (SeanNaren/deepspeech.pytorch)",
            "DeepSpeech 2 (5 bidirectional LSTM layers of 1024) trained on LibriSpeech, release v2.0 of "
            "deepspeech.pytorch; maml_lip's and oneshot_a2v's audio features (baselines/_deepspeech.py; a baseline's "
            "input, not a metric's). A dict whose 'state_dict' holds the tensors. " + _NO_HASH,
        ),
        WeightFile(
            "atnet-audiodvp",
            "atnet_lstm_18.pth",
            None,
            None,
            None,
            "MIT (lelechen63/ATVGnet); the checkpoint carries no separate licence statement",
            "ATnet (Chen et al. CVPR 2019) checkpoint that AudioDVP uses for its 256-d audio features "
            "(xinwen-cs/AudioDVP vendor/ATVGnet/model/atnet_lstm_18.pth; linked from lelechen63/ATVGnet's README, "
            "Google Drive, no direct address): meta_talk reads its audio_eocder* tensors. Import with --from. "
            + _NO_HASH,
        ),
        WeightFile(
            "bfm-deng-front",
            "BFM_model_front.mat",
            None,
            None,
            None,
            "Basel Face Model 2009: free for non-commercial research after registration at "
            "https://faces.dmi.unibas.ch/bfm/ ; may not be redistributed",
            "The 3DMM of Deng et al. (microsoft/Deep3DFaceReconstruction): built on your machine by its "
            "BFM/ script from 01_MorphableModel.mat (BFM 2009, register at the address above) and Exp_Pca.bin "
            "(Guo et al., the 3DFace repository's expression basis). Each user builds it, so its SHA-256 differs "
            "by build and none can be recorded: import with --from DIR --allow-unverified. " + _NO_HASH,
        ),
    ]
}


def get(name: str) -> WeightFile:
    """Return the table entry for ``name``; ``KeyError`` with close matches when unknown."""
    try:
        return TABLE[name]
    except KeyError:
        close = difflib.get_close_matches(name, TABLE, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(TABLE))}"
        raise KeyError(f"unknown pretrained file {name!r}{hint}") from None


def weights_dir() -> Path:
    """``$TALKBENCH_WEIGHTS``, or ``~/.cache/talkbench/weights`` (not created here)."""
    root = os.environ.get(ENV_VAR)
    return Path(root) if root else Path.home() / ".cache" / "talkbench" / "weights"


def _how_to_get(entry: WeightFile) -> str:
    fetch = f"talkbench weights fetch {entry.name}" if entry.url else "(no download address)"
    return f"get it with `{fetch}`, or put {entry.filename} in a folder and run `talkbench weights fetch --from DIR`"


def path(name: str) -> Path:
    """Where the file ``name`` is; raises :class:`WeightsMissingError` naming the file and the command."""
    entry = get(name)
    target = weights_dir() / entry.filename
    if not target.is_file():
        raise WeightsMissingError(
            f"pretrained file {entry.filename} ({entry.name}; `talkbench weights list` says what uses it) not found "
            f"in {weights_dir()} (set ${ENV_VAR} to look elsewhere); {_how_to_get(entry)}"
        )
    return target


def available(name: str) -> bool:
    """Whether the file ``name`` is in the weights directory (not checksummed; see :func:`verify`)."""
    return (weights_dir() / get(name).filename).is_file()


_HASHES: dict[tuple[str, int, int], str] = {}


def file_hash(name: str) -> str:
    """SHA-256 of the cached file ``name`` (memoised per path, size and mtime): what results record."""
    target = path(name)
    stat = target.stat()
    key = (str(target), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = sha256_file(target)
    return _HASHES[key]


def _check(entry: WeightFile, file: Path, digest: str, origin: str | Path | None = None) -> None:
    """Raise :class:`WeightsChecksumError` if ``file`` (with ``digest``) is not the recorded file.

    ``origin`` names the file in the message when ``file`` is a temporary copy of it (a download or an import).
    """
    size = file.stat().st_size
    shown = origin or file
    if entry.size is not None and size != entry.size:
        raise WeightsChecksumError(f"{shown}: {size} bytes, expected {entry.size} for {entry.name}")
    if entry.sha256 is not None and digest != entry.sha256:
        raise WeightsChecksumError(f"{shown}: SHA-256 {digest}, expected {entry.sha256} for {entry.name}")


def verify(name: str) -> bool:
    """Whether the cached file ``name`` has the recorded SHA-256 and size.

    Raises:
        WeightsMissingError: the file is not in the weights directory.
        WeightsUnverifiableError: no SHA-256 is recorded for it yet.

    """
    entry = get(name)
    target = path(name)
    if entry.sha256 is None:
        raise WeightsUnverifiableError(
            f"{entry.filename}: no SHA-256 is recorded for {entry.name}, so it cannot be verified "
            f"(its SHA-256 is {file_hash(name)}; record it in bench/weights.py TABLE once checked)"
        )
    try:
        _check(entry, target, file_hash(name))
    except WeightsChecksumError:
        return False
    return True


def _refuse_unverified(entry: WeightFile, allow_unverified: bool) -> None:
    if entry.sha256 is None and not allow_unverified:
        raise WeightsUnverifiableError(
            f"{entry.name}: no SHA-256 is recorded for {entry.filename}, so its integrity cannot be checked; "
            f"pass --allow-unverified (allow_unverified=True) to accept it anyway"
        )


def _install(entry: WeightFile, source_stream: Any, total: int | None, progress: bool, origin: str | Path) -> Path:
    """Stream ``origin``'s bytes into a temporary file beside the target, check them, rename the file into place."""
    target = weights_dir() / entry.filename
    with atomic_path(target) as tmp:
        digest = hashlib.sha256()
        done = 0
        with open(tmp, "wb") as out:
            for chunk in iter(lambda: source_stream.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    shown = f"{100 * done / total:5.1f}%" if total else f"{done >> 20} MiB"
                    print(f"\r{entry.filename}: {shown}", end="", file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
        _check(entry, tmp, digest.hexdigest(), origin)
        if entry.sha256 is None:
            print(f"{entry.name}: unverified file, SHA-256 {digest.hexdigest()}", file=sys.stderr)
    return target


def fetch(name: str, progress: bool = True, *, allow_unverified: bool = False, timeout: float = 60.0) -> Path:
    """Download ``name`` from its official address into the weights directory, checked and atomic.

    Raises:
        WeightsChecksumError: the download does not match the recorded SHA-256 (nothing is left behind).
        WeightsUnverifiableError: no SHA-256 is recorded and ``allow_unverified`` is False.
        ValueError: the entry has no download address (import it with ``--from``).
        OSError: the download failed.

    """
    entry = get(name)
    if entry.url is None:
        raise ValueError(f"{entry.name}: no download address is known; {_how_to_get(entry)}")
    _refuse_unverified(entry, allow_unverified)
    import urllib.error  # here: 30 ms that every other command would pay for nothing
    import urllib.request

    request = urllib.request.Request(entry.url, headers={"User-Agent": "talkbench"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (URLs come from TABLE)
            length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            return _install(entry, response, int(length) if length else None, progress, entry.url)
    except urllib.error.URLError as exc:
        raise OSError(
            f"{entry.name}: download of {entry.url} failed ({exc.reason}); download {entry.filename} by other means "
            f"and run `talkbench weights fetch --from DIR`"
        ) from exc


def import_from(directory: str | os.PathLike[str], *, allow_unverified: bool = False) -> list[str]:
    """Copy every known file found by name under ``directory`` into the weights directory, checked.

    Returns the names imported. Files without a recorded SHA-256 are skipped (with a message) unless
    ``allow_unverified``; a file with the wrong SHA-256 raises :class:`WeightsChecksumError`.
    """
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory")
    imported = []
    for entry in TABLE.values():
        found = sorted(root.rglob(entry.filename))
        if not found:
            continue
        if entry.sha256 is None and not allow_unverified:
            print(f"{entry.name}: skipped {found[0]} (no SHA-256 recorded; use --allow-unverified)", file=sys.stderr)
            continue
        with open(found[0], "rb") as source:
            _install(entry, source, None, False, found[0])
        imported.append(entry.name)
    return imported


def load_state_dict(name: str, map_location: str = "cpu") -> dict[str, Any]:
    """Load the state dict in the file ``name``: safetensors, or ``torch.load(weights_only=True)``.

    Files with a recorded SHA-256 are checked (once per process and file version) before loading.

    Raises:
        WeightsMissingError: the file is not there (the message gives the fetch command).
        WeightsChecksumError: the file is not the recorded one.
        ValueError: the file is not a plain state dict that can be read without running pickled code.

    """
    import torch

    entry = get(name)
    target = path(name)
    if entry.sha256 is not None:
        _check(entry, target, file_hash(name))
    if target.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(target), device=map_location)
    try:
        state = torch.load(target, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise ValueError(f"{target}: cannot be read as a plain state dict with weights_only=True: {exc}") from exc
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{target}: expected a mapping of parameter names to tensors, got {type(state).__name__}")
    return dict(state)


def remove(name: str) -> bool:
    """Delete the cached file ``name``; returns whether there was one."""
    target = weights_dir() / get(name).filename
    if target.is_file():
        target.unlink()
        return True
    return False
