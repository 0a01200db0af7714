"""The memory of each role of a POSE run on real Wan2.1 transformers, from their parameter counts.

    .venv/bin/python scripts/wan_memory.py [--gpus 8]

The transformers are built on the meta device from Wan2.1's published configs (no weights are read);
bytes per parameter follow what onestep holds today: the frozen teacher in `model.dtype` (bfloat16
here), the student trained in float32 with Adam (parameters, gradients and two moments: 16 bytes),
its EMA in float32, the fake score as a rank-16 LoRA on the teacher's linear maps (trained: 16 bytes
per LoRA parameter), the semantic head (trained, 16 bytes). `--gpus N` divides by N (the parameters
sharded evenly over N GPUs, as FSDP does); activations are not counted. A second row per model
trains the student as a LoRA (`model.student_lora_rank`): the student's and the EMA's frozen base
weights in bfloat16, their adapters in float32 (the student's with Adam). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import re

import torch

from onestep.models.wan import LORA_TARGETS

CONFIGS = {
    "Wan2.1-I2V-14B": dict(num_attention_heads=40, attention_head_dim=128, in_channels=36, ffn_dim=13824, num_layers=40, image_dim=1280, added_kv_proj_dim=5120),
    "Wan2.1-T2V-1.3B": dict(num_attention_heads=12, attention_head_dim=128, in_channels=16, ffn_dim=8960, num_layers=30),
}
COMMON = dict(patch_size=(1, 2, 2), out_channels=16, text_dim=4096, freq_dim=256, cross_attn_norm=True, qk_norm="rms_norm_across_heads")
GB = 1e9


def counts(config: dict, rank: int) -> tuple[int, int]:
    """(transformer parameters, LoRA parameters of rank `rank` on the adapter's targets)."""
    from diffusers import WanTransformer3DModel

    with torch.device("meta"):
        model = WanTransformer3DModel(**COMMON, **config)
    lora = sum(rank * (m.in_features + m.out_features) for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and re.fullmatch(LORA_TARGETS, "transformer." + name))
    return sum(p.numel() for p in model.parameters()), lora


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--gpus", type=int, default=8)
    p.add_argument("--lora-rank", type=int, default=16)
    args = p.parse_args()
    head = 5e6  # the semantic head at dim 128 over a 5120-wide backbone: about 5M parameters
    print(f"| model | student | parameters | teacher (bf16) | student | EMA | fake score LoRA r{args.lora_rank} + head (+ Adam) | total | per GPU of {args.gpus} |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, config in CONFIGS.items():
        n, lora = counts(config, args.lora_rank)
        critics = 16 * lora + 16 * head
        for student, roles in (("full (fp32 + Adam)", [2 * n, 16 * n, 4 * n, critics]), (f"LoRA r{args.lora_rank} (bf16 base)", [2 * n, 2 * n + 16 * lora, 2 * n + 4 * lora, critics])):
            total = sum(roles)
            cells = " | ".join(f"{b / GB:.1f} GB" for b in roles)
            print(f"| {name} | {student} | {n / 1e9:.2f}B | {cells} | {total / GB:.0f} GB | {total / GB / args.gpus:.1f} GB |")


if __name__ == "__main__":
    main()
