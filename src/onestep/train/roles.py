"""Build a run's roles (types.Roles) from the teacher's model directory, never by copying a live model.

The teacher, the student and its EMA are each loaded from the directory (built on the meta device,
the weights then loaded in place); a method's own roles are built once, in phase order, as the
method says: "copy" loads one more trainable copy of the weights, "new" asks the method (a LoRA on
the teacher's weights, a discriminator head), under `seeding.init(seed, phase)` so they start the
same in every run and on resume.
"""

from __future__ import annotations

from pathlib import Path

import torch

from onestep import seeding
from onestep.models.io import load_model
from onestep.models.lora import LoraScore
from onestep.types import Roles

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        from onestep.errors import UserError

        raise UserError(f"parallel.device is {name!r} and this machine has no CUDA device: use parallel.device=cpu")
    return device


def load_role(
    model_dir: Path,
    device: torch.device,
    *,
    trainable: bool,
    dtype: torch.dtype = torch.float32,
    latent_size: tuple[int, int, int] | None = None,
    causal_block: int | None = None,
):
    """One role's network from the directory; `latent_size` is the run's latent video size (Wan folders
    need it); `causal_block` makes it block-causal (a causal student and its EMA)."""
    model, _ = load_model(
        model_dir,
        map_location=device,
        dtype=None if trainable else dtype,
        latent_size=latent_size,
        causal_block=causal_block,
    )
    return model.requires_grad_(trainable).train(trainable)


def lora_student(load, seed: int, rank: int, dtype: torch.dtype) -> tuple[LoraScore, LoraScore]:
    """(student, EMA) as LoRAs of rank `rank` on their own frozen copies of the teacher's weights, held
    in `dtype` like the teacher (peft keeps the adapters in float32): the trained (and averaged)
    parameters are the adapters alone; the EMA's starts equal to the student's."""
    seeding.init(seed, -1)
    student = LoraScore(load(trainable=False, dtype=dtype), rank, name="student").requires_grad_(True)
    ema = LoraScore(load(trainable=False, dtype=dtype), rank, name="student").requires_grad_(False)
    ema.load_state_dict(student.state_dict())
    return student, ema


def student_copy(
    model_dir: str | Path,
    device: torch.device,
    *,
    seed: int,
    dtype: torch.dtype = torch.float32,
    latent_size=None,
    student_lora_rank: int = 0,
    student_causal_block: int = 0,
    student_init: str | Path = "",
):
    """A fresh, unsharded module shaped as the run's student (to load gathered weights into for export)."""
    load = lambda **kw: load_role(
        Path(student_init or model_dir),
        device,
        latent_size=latent_size,
        causal_block=student_causal_block or None,
        **kw,
    )  # noqa: E731
    return lora_student(load, seed, student_lora_rank, dtype)[1] if student_lora_rank > 0 else load(trainable=False)


def build_roles(
    model_dir: str | Path,
    methods: list,
    *,
    seed: int,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    latent_size: tuple[int, int, int] | None = None,
    student_lora_rank: int = 0,
    student_causal_block: int = 0,
    student_init: str | Path = "",
) -> Roles:
    """The run's roles; `student_lora_rank` > 0 trains the student as a LoRA (lora_student);
    `student_causal_block` > 0 makes the student and its EMA block-causal (the teacher stays
    bidirectional); `student_init` starts them from another model directory's weights (an earlier
    run's student, e.g. `causal-init`'s) instead of the teacher's."""
    model_dir = Path(model_dir)
    load = lambda **kw: load_role(model_dir, device, latent_size=latent_size, **kw)  # noqa: E731
    start = Path(student_init) if student_init else model_dir
    own = lambda **kw: load_role(
        start, device, latent_size=latent_size, causal_block=student_causal_block or None, **kw
    )  # noqa: E731
    if student_lora_rank > 0:
        student, ema = lora_student(own, seed, student_lora_rank, dtype)
    else:
        student, ema = own(trainable=True), own(trainable=False)  # the student starts as the teacher
    roles = Roles(teacher=load(trainable=False, dtype=dtype), student=student, ema=ema)
    for phase, method in enumerate(methods):
        for name, how in method.roles.items():
            if name in roles:
                continue
            seeding.init(seed, phase)
            module = load(trainable=True) if how == "copy" else method.new_role(name, roles)
            roles.add(name, module.to(device))
    return roles
