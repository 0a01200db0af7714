"""Give a built-in DiT another text encoder, starting where its old one left off:

    python scripts/swap_text_encoder.py assets/teacher --encoder mpnet --out runs/v8-mpnet-init

The map from the new encoder's token states to the old one's is fitted on the teacher's training
prompts (seed 0, both tracks, the empty prompt of CFG among them) and folded into the model's first
text layers (models/text_swap.py); a teacher run with `init_from` the output trains from there
(docs/teacher.md). The output's config.json records the source and the map's error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from onestep.configs.teacher import TeacherConfig
from onestep.models.io import load_model, save_model
from onestep.models.text import DIMS, TextEncoder
from onestep.models.text_swap import pooled, swapped, token_map
from onestep.world.clip import WorldConfig
from onestep.world.stream import batch_at


def training_prompts(n: int, config: WorldConfig) -> list[str]:
    """The empty prompt and the distinct training prompts of the teacher's default mix, batch by batch
    until there are at least n."""
    cfg, prompts, step = TeacherConfig(), {"": None}, 0
    while len(prompts) < n:
        prompts.update(
            dict.fromkeys(
                batch_at(step, seed=cfg.seed, batch_size=cfg.batch_size, tracks=cfg.tracks, config=config).prompts
            )
        )
        step += 1
    return list(prompts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", type=Path)
    p.add_argument("--encoder", required=True, choices=sorted(DIMS))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--prompts", type=int, default=4096, help="distinct training prompts to fit the map on")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model, config = load_model(args.model)
    old, new = TextEncoder.of(config), TextEncoder(config.get("max_text", 32), name=args.encoder)
    prompts = training_prompts(args.prompts, WorldConfig(model.config.frames, model.config.height))
    m, error, used = token_map(old, new, prompts)
    print(
        f"token map fitted on the {used} of {len(prompts)} prompts tokenised to equal length: relative error "
        f"{error:.3f}",
        flush=True,
    )
    target = swapped(model, m, pooled(new, prompts[1:2049]), args.encoder)
    extra = {k: v for k, v in config.items() if k not in ("kind", "model")}
    save_model(
        args.out,
        target,
        {
            **extra,
            "text_encoder_swap": {"from": args.model.as_posix(), "encoder": args.encoder, "map_error": round(error, 4)},
        },
    )
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
