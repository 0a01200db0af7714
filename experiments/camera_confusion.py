"""Which camera moves does a model get wrong, and as what? (docs/pose.md)

    .venv/bin/python experiments/camera_confusion.py runs/eval/student runs/eval/teacher [--start 128 --stop 256]
    .venv/bin/python experiments/camera_confusion.py runs/eval/v8-cam-para --move "tilt up"     # each clip's prompt and
    reading

Reads the photocam videos an `onestep eval` run saved (`videos-photocam.npz`), rebuilds the held-out
clips they were made for (on the photos its key.json names: the suite's own or `--photos external`),
and reads each video's camera move with the world's instrument, as the
suite's camera-move accuracy does. Prints, per eval directory, the truth-by-estimate table and the
accuracy over clips [start, stop). Held-out clip i has the same condition and noise at every n, so
clips 128-255 of an n = 256 eval are fresh against anything chosen on an n = 128 eval. `--move M`
also lists every clip whose true move is M: the prompt it was asked with (held-out words when the
key says `--prompts paraphrase`) and the move read.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from onestep.eval.suite import heldout_clips
from onestep.world import instruments
from onestep.world import photos as world_photos
from onestep.world.clip import WorldConfig


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("evals", type=Path, nargs="+", help="directories written by `onestep eval`")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--stop", type=int, default=None)
    p.add_argument("--move", default=None, help="list each clip of this true move with its prompt and the move read")
    args = p.parse_args()
    for folder in args.evals:
        videos = np.load(folder / "videos-photocam.npz")["videos"]
        stop = len(videos) if args.stop is None else args.stop
        if not 0 <= args.start < stop <= len(videos):
            raise SystemExit(f"{folder}: clips [{args.start}, {stop}) are not within its {len(videos)} videos")
        _, frames, size = videos.shape[:3]
        key = json.loads((folder / "key.json").read_text()) if (folder / "key.json").is_file() else {}
        photos = world_photos.external() if key.get("photos") == "external" else None
        clips = heldout_clips(
            "photocam", stop, WorldConfig(frames, size), photos, prompts=key.get("prompts", "template")
        )[args.start :]
        read = [instruments.estimate_camera(v.astype(np.float32) / 255)["move"] for v in videos[args.start : stop]]
        pairs = Counter((c.truth["move"], r) for c, r in zip(clips, read))
        truths, guesses = sorted({t for t, _ in pairs}), sorted({g for _, g in pairs})
        right = sum(n for (t, g), n in pairs.items() if t == g)
        print(
            f"{folder}: clips [{args.start}, {stop}), camera-move accuracy {right / len(clips):.3f} "
            f"({right}/{len(clips)})"
        )
        print("truth \\ read".ljust(13) + "".join(g.ljust(10) for g in guesses))
        for t in truths:
            print(t.ljust(13) + "".join(str(pairs[(t, g)]).ljust(10) for g in guesses))
        for c, r in zip(clips, read):
            if c.truth["move"] == args.move:
                print(f"  {'right' if r == args.move else r:10} {c.prompt}")


if __name__ == "__main__":
    main()
