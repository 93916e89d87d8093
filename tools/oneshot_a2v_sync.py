"""OneShotA2V's sync discriminator on synthgrid: in-sync against 5-frame-shifted pairs on the unseen test speakers.

Trains the contrastive SyncNet-layout discriminator (4.1.5) of the given preset on the synthgrid-demo training
speakers (s01-s06), as ``fit`` pre-trains it, then measures on the held-out speakers (s07, s08) the embedding distance
of every 0.2 s audio window to its own 5 frames and to the 5 frames starting 5 frames later; writes the AUC and a
histogram of both distances.

    .venv/bin/python tools/oneshot_a2v_sync.py --steps 300 --out leaderboards/oneshot_a2v-sync-separation
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    """Train, measure, write ``OUT.json`` and ``OUT.png``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="leaderboards/oneshot_a2v-sync-separation")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from baselines.base import Budget, seed_everything
    from baselines.oneshot_a2v.config import PRESETS, OneShotA2VConfig
    from baselines.oneshot_a2v.training import prepare, sync_separation, train_sync
    from baselines.wav2lip.model import SyncNet
    from bench.data.synthetic import demo_corpus

    corpus = demo_corpus()
    test_speakers = corpus.speakers()[6:]
    train = [corpus.clip(r) for r in corpus if r.speaker not in test_speakers]
    held = [corpus.clip(r) for r in corpus if r.speaker in test_speakers]
    cfg = OneShotA2VConfig(**{**PRESETS[args.preset], "sync_batch_size": args.batch})
    seed_everything(args.seed)
    sync = SyncNet(cfg.sync_width)
    data, held_data = prepare(train, cfg.image_size, False), prepare(held, cfg.image_size, False)
    before = sync_separation(sync, held_data)
    start = time.monotonic()
    report = train_sync(sync, data, Budget(steps=args.steps), cfg, np.random.default_rng(args.seed), torch.device("cpu"))
    after = sync_separation(sync, held_data)
    summary = {
        "preset": args.preset, "steps": report.steps, "batch": args.batch, "seed": args.seed,
        "train_seconds": round(time.monotonic() - start, 1), "train_clips": len(train), "held_out_clips": len(held),
        "held_out_speakers": test_speakers, "pairs": int(len(after["in_sync"])), "auc_before": round(before["auc"], 4),
        "auc": round(after["auc"], 4), "mean_distance_in_sync": round(float(np.mean(after["in_sync"])), 4),
        "mean_distance_shifted": round(float(np.mean(after["shifted"])), 4),
        "first_loss": round(report.losses["sync_pretrain"][0], 4),
        "last_10_loss": round(float(np.mean(report.losses["sync_pretrain"][-10:])), 4),
    }  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    _figure(after, summary, out.with_suffix(".png"))
    print(json.dumps(summary))


def _figure(result: dict, summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(0, max(result["in_sync"].max(), result["shifted"].max()) * 1.05, 40).tolist()
    ax.hist(result["in_sync"], bins, alpha=0.6, label="in sync")
    ax.hist(result["shifted"], bins, alpha=0.6, label="frames 5 later")
    ax.set_xlabel("embedding distance ||v - a||")
    ax.set_ylabel("windows")
    ax.set_title(f"sync D on held-out synthgrid speakers: AUC {summary['auc']:.3f}, {summary['steps']} steps", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
