"""maml_lip's central claim in miniature (Agarwal et al. Fig. 5): meta-learning vs transfer learning on unseen speakers.

Both models are the tiny preset trained on synthgrid-demo's training speakers (s01-s06) for the same number of steps
and samples per step: the meta-trained one by MAML (the shipped demo checkpoint, or a fresh fit), the other by plain
transfer learning (``tiny-transfer``). For each unseen speaker (s07, s08) each is fine-tuned on its K adaptation
samples (the protocol's adapt clips, 16-frame windows every 8 frames) with the method's own fine-tuning (Adam at
0.01, full batch, one step = one epoch), and the composite loss (eq. 3, each model's own auto-encoder) is measured on
a fixed set of query samples from the speaker's test clips after every epoch. Writes a Markdown and a CSV table.

    .venv/bin/python tools/maml_lip_meta_vs_transfer.py [--steps 120] [--epochs 10] [--meta DIR] [--transfer DIR]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

import baselines
from baselines._meta import InnerLoop, adaptation_curve
from baselines.base import Budget
from baselines.maml_lip.training import build_tasks, loss_function, make_batch
from bench.data import prepare_clip, split_records
from bench.protocols import load_protocol

SHOWN = (0, 1, 2, 5, 10)


def speaker_batches(model, protocol, speaker, queries, seed):
    """(support: all K adaptation samples, query: ``queries`` fixed samples of the test clips) of one speaker."""
    rng = np.random.default_rng(seed)
    adapt = [prepare_clip(r, protocol) for r in split_records(protocol, "adapt") if r.speaker == speaker]
    test = [prepare_clip(r, protocol) for r in split_records(protocol, "test") if r.speaker == speaker]
    support_task = build_tasks(adapt, model.config, model.features)[0]
    query_task = build_tasks(test, model.config, model.features)[0]
    support = make_batch(support_task, np.arange(support_task.num_samples)[: model.config.shots], rng, model.device)
    index = rng.choice(query_task.num_samples, size=min(queries, query_task.num_samples), replace=False)
    return support, make_batch(query_task, index, rng, model.device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120, help="fit steps of each model (the demo checkpoint's)")
    parser.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs measured")
    parser.add_argument("--queries", type=int, default=20, help="query samples per speaker")
    parser.add_argument("--meta", type=Path, default=Path("baselines/checkpoints/maml_lip"), help="meta-trained model")
    parser.add_argument("--transfer", type=Path, help="a saved transfer-learned model (else one is fitted)")
    parser.add_argument("--lrs", default="0.01,0.001", help="fine-tuning learning rates (the method's is 0.01)")
    parser.add_argument("--out", type=Path, default=Path("leaderboards"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    protocol = load_protocol("synthgrid-demo")
    train = [prepare_clip(r, protocol) for r in split_records(protocol, "train")]
    models, notes = {}, {}
    if (args.meta / "model.safetensors").is_file():
        models["meta-learning (MAML)"] = baselines.load("maml_lip", args.meta)
        notes["meta-learning (MAML)"] = f"loaded from {args.meta}"
    else:
        model = baselines.create("maml_lip", preset="tiny", seed=0)
        report = model.fit(train, Budget(steps=args.steps))
        models["meta-learning (MAML)"], notes["meta-learning (MAML)"] = model, f"fitted {report.steps} steps"
    if args.transfer is not None:
        models["transfer learning"] = baselines.load("maml_lip", args.transfer)
        notes["transfer learning"] = f"loaded from {args.transfer} (tiny-transfer, {args.steps} steps, seed 0)"
    else:
        start = time.monotonic()
        transfer = baselines.create("maml_lip", preset="tiny-transfer", seed=0)
        report = transfer.fit(train, Budget(steps=args.steps))
        models["transfer learning"] = transfer
        notes["transfer learning"] = f"fitted {report.steps} steps in {time.monotonic() - start:.0f} s"
    rows = []
    for lr in (float(v) for v in args.lrs.split(",")):
        for label, model in models.items():
            for speaker in ("s07", "s08"):
                support, query = speaker_batches(model, protocol, speaker, args.queries, seed=0)
                inner = InnerLoop(args.epochs, lr, model.config.inner_optimizer)
                loss = loss_function(model.net, model.autoencoder, model.config)
                curve = adaptation_curve(model.net, loss, support, query, inner)
                rows.append((f"{label}, fine-tuned at {lr:g}", speaker, curve))
                print(rows[-1][0], speaker, [round(v, 4) for v in curve], flush=True)
    write_tables(rows, notes, args)


def write_tables(rows, notes, args) -> None:
    """``maml_lip-meta-vs-transfer.md`` and ``.csv`` under ``args.out``."""
    shown = [e for e in SHOWN if e <= args.epochs]
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "maml_lip-meta-vs-transfer.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["training", "speaker", *[f"epoch_{e}" for e in range(args.epochs + 1)]])
        for label, speaker, curve in rows:
            writer.writerow([label, speaker, *[f"{v:.5f}" for v in curve]])
    lines = [
        "# maml_lip: query loss on unseen speakers after fine-tuning, meta-learning vs transfer learning",
        "",
        f"synthgrid-demo, tiny preset, {args.steps} training steps each on s01-s06; fine-tuning on the K adaptation "
        "samples of s07 / s08 (Adam, full batch, 1 step = 1 epoch; 0.01 is the method's learning rate, 0.001 a gentler "
        f"one); eq. 3 loss on {args.queries} fixed query samples of the speaker's test clips (lower is better). "
        "Made by `tools/maml_lip_meta_vs_transfer.py`.",
        "",
        "| training | speaker | " + " | ".join(f"epoch {e}" for e in shown) + " |",
        "|---|---|" + "---|" * len(shown),
    ]
    for label, speaker, curve in rows:
        lines.append(f"| {label} | {speaker} | " + " | ".join(f"{curve[e]:.4f}" for e in shown) + " |")
    for label in dict.fromkeys(r[0] for r in rows):
        mean = np.mean([r[2] for r in rows if r[0] == label], axis=0)
        lines.append(f"| {label} | mean | " + " | ".join(f"**{mean[e]:.4f}**" for e in shown) + " |")
    lines += ["", *[f"- {label}: {note}" for label, note in notes.items()], ""]
    (args.out / "maml_lip-meta-vs-transfer.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
