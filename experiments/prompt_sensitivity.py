"""Does a teacher read the motion from the prompt? (the diagnostic of docs/teacher.md)

    .venv/bin/python experiments/prompt_sensitivity.py assets/teacher [--threads 1]

On held-out clips (16 moving photocam clips, 16 shapes clips), the x0 prediction at t = 0.5 and 0.9
from the same noisy video and first frame, once with the clip's prompt and once with the mirrored
prompt (left/right, up/down, in/out swapped). Printed: the x0 MSE of frames 4-7 against the truth for
both prompts and for repeating the first frame, and the MSE between the two predictions (how much the
prompt changes the output; a model that ignores the prompt prints ~0). Videos in [-1, 1].
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from onestep import flow, world
from onestep.models.io import load_model
from onestep.models.text import TextEncoder
from onestep.types import Cond

SWAP = {"left": "right", "right": "left", "up": "down", "down": "up", "in": "out", "out": "in"}
HELDOUT = 1_000_000_000


def mirror(prompt: str) -> str:
    return " ".join(SWAP.get(w, w) for w in prompt.split())


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model, config = load_model(args.model)
    model.eval()
    encoder = TextEncoder.of(config)
    moving = [
        c for c in (world.sample("photocam", HELDOUT + i, "heldout") for i in range(40)) if c.truth["move"] != "static"
    ][:16]
    shapes = [world.sample("shapes", HELDOUT + i, "heldout") for i in range(16)]
    late = slice(4, 8)
    for name, clips in (("photocam", moving), ("shapes", shapes)):
        x0 = torch.tensor(np.stack([c.video for c in clips])).permute(0, 4, 1, 2, 3) * 2 - 1
        image = x0[:, :, 0]
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
        repeat = float((image[:, :, None].expand_as(x0)[:, :, late] - x0[:, :, late]).pow(2).mean())
        for t in (0.5, 0.9):
            tt = torch.full((len(clips),), t)
            x_t = flow.interpolate(x0, noise, tt)
            preds = []
            for prompts in ([c.prompt for c in clips], [mirror(c.prompt) for c in clips]):
                text, mask = encoder(prompts)
                preds.append(x_t - tt.view(-1, 1, 1, 1, 1) * model(x_t, tt, Cond(text, mask, image)))
            err = [float((x[:, :, late] - x0[:, :, late]).pow(2).mean()) for x in preds]
            sensitivity = float((preds[0] - preds[1]).pow(2).mean())
            print(
                f"{name} t={t}: x0 MSE frames 4-7: prompt {err[0]:.4f}, mirrored {err[1]:.4f}, repeat {repeat:.4f}; "
                f"prompt sensitivity {sensitivity:.5f}"
            )


if __name__ == "__main__":
    main()
