"""Training curves of a POSE run for docs/pose.md (png): all phases on one step axis.

    .venv/bin/python scripts/pose_curves.py --logs assets/students/pose/logs --out docs/img/pose_curves.png

Panels: the ODE pairs' regression losses (the init's, and the phases' anchor when `ode_weight` > 0); phase I's
distribution-matching and fake-score losses; phase II's discriminator hinge loss and the
gap D(real) - D(fake); phase II's frame-consistency MSE and ST-R1. Thin lines are the logged values (every
10 steps), thick ones a running mean over 5 of them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from teacher_docs import scalars  # noqa: E402


def smooth(values: np.ndarray, k: int = 5) -> np.ndarray:
    return np.convolve(values, np.ones(k) / k, mode="valid") if len(values) >= k else values


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--logs", type=Path, default=Path("assets/students/pose/logs"))
    p.add_argument("--out", type=Path, default=Path("docs/img/pose_curves.png"))
    args = p.parse_args()
    s = {k: np.array(v) for k, v in scalars([args.logs]).items()}
    gap = np.column_stack([s["pose/d_real"][:, 0], s["pose/d_real"][:, 1] - s["pose/d_fake"][:, 1]])
    panels = [
        ("phase I: distribution matching", [("vsd/dm_loss", s["vsd/dm_loss"]), ("vsd/fake_loss", s["vsd/fake_loss"])]),
        ("phase II: discriminator", [("pose/d_hinge", s["pose/d_hinge"]), ("D(real) - D(fake)", gap)]),
        (
            "phase II: regularisers",
            [("pose/consistency", s["pose/consistency"]), ("pose/st_r1 / 10", s["pose/st_r1"] * [1, 0.1])],
        ),
    ]
    if "ode/mse" in s:
        panels.insert(
            0,
            ("ODE pairs: regression", [(k, s[k]) for k in ("ode/mse", "ode/renoised_mse", "ode/anchor_mse") if k in s]),
        )
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
    for ax, (title, series) in zip(axes, panels):
        for (label, xy), colour in zip(series, ("C0", "C1", "C2")):
            ax.plot(xy[:, 0], xy[:, 1], color=colour, alpha=0.3, lw=0.8)
            ax.plot(xy[len(xy) - len(smooth(xy[:, 1])) :, 0], smooth(xy[:, 1]), color=colour, lw=2, label=label)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
