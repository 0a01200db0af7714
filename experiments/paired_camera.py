"""Camera-move accuracy of two models on the same held-out clips and noise, compared clip by clip.

    .venv/bin/python experiments/paired_camera.py runs/eval/with runs/eval/without [--rounds 10000]

Both directories come from `onestep eval` at the same n and seed, so clip i has the same condition and
noise in both (eval/suite.py). Each saved photocam video is read with the world's instrument as the
suite's accuracy reads it; the difference of the two accuracies gets a paired bootstrap interval
(clips resampled together), which is narrower than comparing the two separate intervals. Prints the
two accuracies, the difference, its 95% interval, and the clips only one of them gets right.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from onestep.eval.suite import heldout_clips
from onestep.world import instruments
from onestep.world.clip import WorldConfig


def correct(folder: Path) -> np.ndarray:
    videos = np.load(folder / "videos-photocam.npz")["videos"]
    clips = heldout_clips("photocam", len(videos), WorldConfig(videos.shape[1], videos.shape[2]))
    return np.array(
        [
            c.truth["move"] == instruments.estimate_camera(v.astype(np.float32) / 255)["move"]
            for c, v in zip(clips, videos)
        ]
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--rounds", type=int, default=10_000)
    args = p.parse_args()
    a, b = correct(args.a), correct(args.b)
    if len(a) != len(b):
        raise SystemExit(f"{args.a} has {len(a)} clips and {args.b} {len(b)}: evaluate both at the same --n")
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(a), size=(args.rounds, len(a)))
    diffs = a[idx].mean(1) - b[idx].mean(1)
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    print(
        f"{args.a}: {a.mean():.3f}   {args.b}: {b.mean():.3f}   difference {a.mean() - b.mean():+.3f} (95% paired "
        f"interval {lo:+.3f} to {hi:+.3f})   only A right: {int((a & ~b).sum())}, only B right: "
        f"{int((b & ~a).sum())}, n = {len(a)}"
    )


if __name__ == "__main__":
    main()
