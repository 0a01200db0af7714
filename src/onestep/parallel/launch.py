"""The process group of a `torchrun` launch: `torchrun --nproc-per-node N -m onestep distill ...`.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous; `init()` joins the group (NCCL on
CUDA, gloo on the CPU) and returns this process's device. Without torchrun (WORLD_SIZE unset or 1)
nothing is started and the run is the single-process one.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def launched() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: torch.device) -> torch.device:
    """Join torchrun's process group once; a CUDA run takes the GPU of LOCAL_RANK."""
    if not launched() or dist.is_initialized():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group(
        "nccl" if device.type == "cuda" else "gloo", device_id=device if device.type == "cuda" else None
    )
    return device


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()
