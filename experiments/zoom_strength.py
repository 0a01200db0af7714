"""How much do a model's zoom videos zoom? (docs/teacher.md)

    .venv/bin/python experiments/zoom_strength.py runs/eval/v7-nfe100-n256 [more eval dirs]

Reads the photocam videos an `onestep eval` run saved, rebuilds the held-out clips they were made for
(the suite's own photos), and for each zoom clip fits the best zoom of the asked direction with the
world's instrument: the median scale per frame, and the median ratio of that hypothesis' warp error
to no motion's (the instrument calls a move only below 0.9). The ground truth is measured the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from onestep.eval.suite import heldout_clips
from onestep.world import instruments
from onestep.world.clip import WorldConfig


def best_fit(video: np.ndarray, move: str) -> tuple[float, float]:
    """(scale per frame, warp-error ratio to static) of the best hypothesis labelled `move`."""
    err = instruments.warp_errors(video)
    k = min((j for j, label in enumerate(instruments.LABELS) if label == move), key=lambda j: err[j])
    return float(instruments.PARAMS[k][2]), float(err[k] / err[0])


def main() -> None:
    for run in map(Path, sys.argv[1:]):
        with np.load(run / "videos-photocam.npz") as data:
            videos = data["videos"].astype(np.float32) / 255.0
        clips = heldout_clips("photocam", len(videos), WorldConfig(frames=videos.shape[1], size=videos.shape[2]))
        print(run)
        for move in ("zoom in", "zoom out"):
            idx = [i for i, c in enumerate(clips) if c.truth["move"] == move]
            for name, vids in (("generated", [videos[i] for i in idx]), ("truth", [clips[i].video for i in idx])):
                fits = np.array([best_fit(v, move) for v in vids])
                print(
                    f"  {move:8s} {name:9s} n={len(idx):3d}  scale/frame {np.median(fits[:, 0]):.3f}  "
                    f"error ratio to static {np.median(fits[:, 1]):.3f}  called a move "
                    f"{np.mean(fits[:, 1] < instruments.STATIC_ERR_RATIO):.2f}"
                )


if __name__ == "__main__":
    main()
