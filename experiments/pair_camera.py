"""How often do the run's ODE pairs make the prompt's camera move? (docs/pose.md)

    .venv/bin/python experiments/pair_camera.py --run runs/pose

The ODE-pair init (`methods/ode_regression.py`) regresses the one-step generator onto the guided
teacher's ODE solutions x0_i. This script rebuilds the training clips each chunk was made from (the
batches of steps PAIR_STEPS + k * chunk_batches, as the pair maker read them) and reads the camera
move of every photocam x0_i with the world's instrument: the ceiling a perfect regression could reach.
Printed per move kind (clips with a moving camera): how many, and the share the pairs get right.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from safetensors.torch import load_file

from onestep.data.pairs import PAIR_STEPS
from onestep.media import tensor_to_frames
from onestep.world import instruments
from onestep.world.clip import WorldConfig
from onestep.world.stream import batch_at


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--pairs", type=Path, required=True, help="an `onestep pairs` folder, or a run's ode_pairs/")
    args = p.parse_args()
    folder = args.pairs
    made_with = json.loads((folder / "manifest.json").read_text())  # seed, batch size and tracks of the pairs' data
    tracks, batch_size = made_with["tracks"], made_with["batch_size"]
    right = defaultdict(list)
    for k, path in enumerate(sorted(folder.glob("chunk_*.safetensors"))):
        x0 = load_file(str(path))["x0"]
        world = WorldConfig(x0.shape[2], x0.shape[3])
        for b in range(made_with["chunk_batches"]):
            batch = batch_at(
                PAIR_STEPS + k * made_with["chunk_batches"] + b,
                seed=made_with["seed"],
                batch_size=batch_size,
                tracks=tracks,
                config=world,
                keep_clips=True,
            )
            for i, clip in enumerate(batch.clips):
                move = clip.truth.get("move", "static") if clip.track == "photocam" else "static"
                if move != "static":
                    got = instruments.estimate_camera(tensor_to_frames(x0[b * batch_size + i]))["move"]
                    right[move.split()[0]].append(got == move)
    for kind, hits in sorted(right.items()):
        print(f"{kind:5s} {len(hits):4d} clips  {np.mean(hits):.3f} right")
    every = [h for hits in right.values() for h in hits]
    print(f"all   {len(every):4d} clips  {np.mean(every):.3f} right")


if __name__ == "__main__":
    main()
