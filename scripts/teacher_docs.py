"""Figures for docs/teacher.md from a teacher run: loss and probe curves (png), a sample grid (gif).

    .venv/bin/python scripts/teacher_docs.py --run runs/teacher --out docs/img \
        [--prior docs/log/teacher-runs/logs-v3:2250 --prior docs/log/teacher-runs/logs-v4:2000 ...]

Each `--prior LOGDIR:STEPS` draws the logs of a run this one descends from (`init_from`), oldest
first, STEPS being how long that run was; every later run's steps are shifted by the sum before it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from onestep import world  # noqa: E402
from onestep.eval.sample import SamplerSpec, generate_for_clips  # noqa: E402
from onestep.media import write_video  # noqa: E402
from onestep.models.io import load_model  # noqa: E402
from onestep.models.text import TextEncoder  # noqa: E402


def scalars(logdirs: list[Path]) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, dict[int, float]] = {}
    for d in logdirs:
        ea = EventAccumulator(str(d), size_guidance={"scalars": 0})
        ea.Reload()
        for tag in ea.Tags()["scalars"]:
            out.setdefault(tag, {}).update({e.step: e.value for e in ea.Scalars(tag)})
    return {k: sorted(v.items()) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--run", type=Path, default=Path("runs/teacher"))
    p.add_argument("--out", type=Path, default=Path("docs/img"))
    p.add_argument(
        "--prior", action="append", default=[], help="LOGDIR:STEPS of a run this one descends from, oldest first"
    )
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    s: dict[str, list[tuple[int, float]]] = {}
    offset = 0
    for prior in args.prior:
        logdir, steps = prior.rsplit(":", 1)
        for k, values in scalars([Path(logdir)]).items():
            s.setdefault(k, []).extend((step + offset, v) for step, v in values if step <= int(steps))
        offset += int(steps)
    for k, values in scalars([args.run / "logs"]).items():
        s.setdefault(k, []).extend((step + offset, v) for step, v in values)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    steps, loss = zip(
        *sorted(s.get("teacher/loss", []) + s.get("flow/loss", []))
    )  # the loop of its own logged teacher/loss
    axes[0].plot(steps, loss)
    axes[0].set(yscale="log", xlabel="step", ylabel="flow-matching loss", title="teacher loss")
    for key, ax in (("shapes", axes[1]), ("photocam", axes[2])):
        for tag, values in s.items():
            if tag.startswith(f"probe/{key}/") and not tag.endswith(("_err", "psnr")):
                x, y = zip(*values)
                line = ax.plot(x, y, marker="o", label=tag.split("/")[-1])[0]
                held_out = s.get(
                    f"probe/paraphrase/{key}/{tag.split('/')[-1]}"
                )  # the same clips in held-out words (v6 on)
                if held_out and tag.endswith(("camera_acc", "direction_acc")):
                    hx, hy = zip(*held_out)
                    ax.plot(
                        hx,
                        hy,
                        marker="x",
                        linestyle="--",
                        color=line.get_color(),
                        label=f"{tag.split('/')[-1]}, held-out words",
                    )
        ax.set(xlabel="step", ylim=(0, 1.05), title=f"motion probe: {key} (20 steps, CFG 3)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "teacher_curves.png", dpi=90)

    model, config = load_model(args.run / "model")
    s = config["sampling"]
    clips = [world.sample(t, 1_000_000_000 + i, "heldout") for i in range(4) for t in ("shapes", "photocam")]
    videos = generate_for_clips(
        model, TextEncoder.of(config), clips, SamplerSpec("euler", s["steps"], s["guidance"], s["shift"])
    )
    rows = [np.concatenate([v, c.video], axis=2) for v, c in zip(videos, clips)]  # generated | truth
    write_video(args.out / "teacher_samples.gif", np.concatenate(rows, axis=1), scale=3)
    (args.out / "teacher_samples.txt").write_text("\n".join(c.prompt for c in clips) + "\n")


if __name__ == "__main__":
    main()
