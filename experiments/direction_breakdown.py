"""Where shape motion direction fails: per-object direction accuracy of an eval run's saved shapes
videos, split by the clip's object count, the object's speed and whether it bounces.

    .venv/bin/python experiments/direction_breakdown.py runs/eval/teacher-v6-ext [runs/eval/other ...]

Reads metrics.json (n, prompts) and videos-shapes.npz of each run and rebuilds the same held-out
clips (eval clip i = world seed suite.HELDOUT_SEED + i), so nothing is generated again.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from onestep.eval import suite
from onestep.world import instruments
from onestep.world.clip import WorldConfig


def per_object(video: np.ndarray, truth: dict) -> list[tuple[dict, float]]:
    """(object, 1.0 if its median per-step cosine with the truth is > 0.5) for each object."""
    out = []
    for o in truth["objects"]:
        one = instruments.shapes_report(
            video, {**truth, "objects": [o]}
        )  # the other objects still drawn: colour keeps them apart
        out.append((o, one["direction_acc"]))
    return out


def breakdown(run: Path) -> dict[str, tuple[float, int]]:
    metrics = json.loads((run / "metrics.json").read_text())
    with np.load(run / "videos-shapes.npz") as data:
        videos = data["videos"].astype(np.float32) / 255.0
    clips = suite.heldout_clips(
        "shapes",
        len(videos),
        WorldConfig(frames=videos.shape[1], size=videos.shape[2]),
        prompts=metrics.get("prompts", "template"),
    )
    groups: dict[str, list[float]] = defaultdict(list)
    for video, clip in zip(videos, clips):
        n = len(clip.truth["objects"])
        for o, ok in per_object(video, clip.truth):
            bounces = bool(instruments.bounce_steps(o["steps"]))
            for key in (
                "all",
                f"{n} object{'s' if n > 1 else ''}",
                f"speed {o['speed']}",
                "bounces" if bounces else "no bounce",
            ):
                groups[key].append(ok)
    return {k: (float(np.mean(v)), len(v)) for k, v in sorted(groups.items())}


def main(paths: list[str]) -> None:
    for p in paths:
        print(p)
        for key, (acc, count) in breakdown(Path(p)).items():
            print(f"  {key:12s} {acc:.3f}  ({count} objects)")


if __name__ == "__main__":
    main(sys.argv[1:])
