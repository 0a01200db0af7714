"""Camera-move accuracy per move of `onestep eval` runs (docs/teacher.md)

    .venv/bin/python scripts/camera_per_move.py runs/eval/v8-cam runs/eval/v8-cam-para

Reads each run's photocam videos and key (photos, prompts, n, seed), rebuilds the held-out clips they
were made for, and reads every video's camera move with the world's instrument, as the suite does.
Prints, per asked move, how many clips and the share made right, and what the wrong ones were read as.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from onestep.eval.suite import HELDOUT_SEED, heldout_clips
from onestep.world import instruments
from onestep.world import photos as world_photos
from onestep.world.clip import WorldConfig


def per_move(run: Path) -> dict[str, list[str]]:
    """{asked move: [the move read from each of its videos]}."""
    key = json.loads((run / "key.json").read_text())
    with np.load(run / "videos-photocam.npz") as z:
        videos = z["videos"]
    photos = world_photos.external() if key["photos"] == "external" else None
    clips = heldout_clips("photocam", len(videos), WorldConfig(**key["world"]), photos, HELDOUT_SEED, key["prompts"])
    read = defaultdict(list)
    for clip, video in zip(clips, videos):
        read[clip.truth["move"]].append(instruments.estimate_camera(video)["move"])
    return read


def main() -> None:
    for run in map(Path, sys.argv[1:]):
        read = per_move(run)
        every = [got == move for move, gots in read.items() for got in gots]
        print(f"{run}: {np.mean(every):.3f} of {len(every)}")
        for move in sorted(read):
            gots = read[move]
            wrong = Counter(g for g in gots if g != move).most_common(2)
            print(f"  {move:9s} {len(gots):3d} clips  {np.mean([g == move for g in gots]):.2f} right  wrong: {', '.join(f'{g} {k}' for g, k in wrong) or '-'}")


if __name__ == "__main__":
    main()
