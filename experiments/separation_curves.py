"""How far phase II's discriminator separates real from generated videos, run against run (png):

    .venv/bin/python experiments/separation_curves.py --out docs/img/pose_separation.png \
        "pose-tiny=runs/tiny/logs" "pose-paper=runs/paper/logs" ...

Left: the hinge loss L_D without ST-R1 (2 = no separation, 0 = every logit past its margin); right:
D(real) - D(fake). Both over the steps of phase II, as a running mean over 5 logged values (every 10
steps). A run with no discriminator (adv_weight 0) has no curve.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
from pose_curves import smooth  # noqa: E402
from teacher_docs import scalars  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+", help="LABEL=LOGS_DIR")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for row in args.runs:
        label, logs = row.rsplit("=", 1)
        s = {k: np.array(v) for k, v in scalars([Path(logs)]).items()}
        if "pose/d_hinge" not in s:
            continue
        hinge, real, fake = s["pose/d_hinge"], s["pose/d_real"], s["pose/d_fake"]
        start = hinge[0, 0] - 10
        left.plot(hinge[4:, 0] - start, smooth(hinge[:, 1]), label=label)
        right.plot(real[4:, 0] - start, smooth(real[:, 1] - fake[:, 1]), label=label)
        print(
            f"{label}: hinge {hinge[:5, 1].mean():.3f} -> {hinge[-5:, 1].mean():.3f}, D(real) - D(fake) "
            f"{(real[:5, 1] - fake[:5, 1]).mean():.3f} -> {(real[-5:, 1] - fake[-5:, 1]).mean():.3f}"
        )
    left.axhline(2.0, color="grey", lw=0.8, ls="--")
    right.axhline(0.0, color="grey", lw=0.8, ls="--")
    left.set(title="hinge loss of D (2 = no separation)", xlabel="phase II step")
    right.set(title="D(real) - D(fake)", xlabel="phase II step")
    left.legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
