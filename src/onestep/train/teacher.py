"""Train the teacher on the world: one phase of flow matching (methods/flow_matching.py) on the same
trainer loop as distillation (train/trainer.py).

The fresh model (a function of the seed, optionally started from `init_from`'s weights, with the
pooled-text standardisation set from training prompts) is written once to RUN/init as a model
directory, and the trained role and its EMA are loaded from it, as every run builds its roles.
Resumable: the latest checkpoint in RUN/checkpoints is picked up, and batches, times and noise are
functions of (seed, step), so a resumed run matches an uninterrupted one. The EMA is exported to
RUN/model at every checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from onestep import seeding
from onestep.configs.base import to_dict
from onestep.configs.distill import DataConfig, DistillConfig, PhaseConfig, TrainConfig
from onestep.configs.teacher import TeacherConfig
from onestep.data.world import WorldData
from onestep.errors import UserError
from onestep.files import held
from onestep.methods.flow_matching import FlowMatchingConfig
from onestep.models.io import load_model, save_model
from onestep.models.text import TextEncoder
from onestep.models.video_dit import VideoDiT
from onestep.train.roles import load_role
from onestep.types import Cond, Roles
from onestep.world.clip import WorldConfig
from onestep.world.stream import batch_at


def run_config(cfg: TeacherConfig) -> DistillConfig:
    """The teacher's training as a run of one `flow` phase."""
    method = FlowMatchingConfig(
        p_drop_text=cfg.p_drop_text,
        p_drop_image=cfg.p_drop_image,
        motion_weight=cfg.motion_weight,
        p_drop_token=cfg.p_drop_token,
        time=cfg.time,
    )
    phase = PhaseConfig(
        "flow",
        method,
        steps=cfg.steps,
        lr=cfg.lr,
        betas=cfg.betas,
        grad_clip=cfg.grad_clip,
        weight_decay=cfg.weight_decay,
        warmup=cfg.warmup,
        lr_decay_from=cfg.lr_decay_from,
        ema_decay=cfg.ema_decay,
        ema_warmup=True,
    )
    data = DataConfig(batch_size=cfg.batch_size, tracks=cfg.tracks, max_text=cfg.max_text)
    return DistillConfig(
        phases=[phase],
        data=data,
        train=TrainConfig(
            seed=cfg.seed,
            log_every=cfg.log_every,
            checkpoint_every=cfg.checkpoint_every,
            sample_every=0,
            threads=cfg.threads,
        ),
    )


def text_stats(cfg: TeacherConfig, encoder: TextEncoder) -> torch.Tensor:
    """Pooled text of `text_stats_prompts` training prompts (both tracks, seeds of steps 0, 1, ...)."""
    prompts: list[str] = []
    step = 0
    while len(prompts) < cfg.text_stats_prompts:
        prompts += batch_at(
            step, seed=cfg.seed, batch_size=cfg.batch_size, tracks=cfg.tracks, config=WorldConfig(cfg.frames, cfg.size)
        ).prompts
        step += 1
    pooled = []
    for i in range(0, len(prompts), 256):
        text, mask = encoder(prompts[i : i + 256])
        pooled.append(VideoDiT.pooled_text(Cond(text, mask)))
    return torch.cat(pooled)


def initial_model(cfg: TeacherConfig, encoder: TextEncoder | None) -> VideoDiT:
    """A fresh model (a function of the seed), optionally started from all of `init_from`'s weights (the
    model may add weights, which start fresh, but may not drop any), with the pooled-text
    standardisation set from training prompts unless the source brings its own (the weights it
    trained were fitted to those). encoder=None leaves the statistics unset (a resumed
    run's checkpoint brings them)."""
    seeding.fresh_weights(cfg.seed)
    model = VideoDiT(cfg.model)
    kept = {}
    if cfg.init_from:
        source, _ = load_model(cfg.init_from, strict=False)
        if source.config.text_encoder != cfg.model.text_encoder:
            raise UserError(
                f"init_from {cfg.init_from} reads the {source.config.text_encoder} text encoder and this model "
                f"{cfg.model.text_encoder}: "
                f"move it first (scripts/swap_text_encoder.py), or set model.text_encoder={source.config.text_encoder}"
            )
        own = model.state_dict()
        lost = [k for k, v in source.state_dict().items() if k not in own or own[k].shape != v.shape]
        if lost:  # a model that gains weights starts them fresh; one that would drop trained weights is refused
            raise UserError(
                f"init_from {cfg.init_from} has weights this model would drop ({', '.join(lost[:3])}): give the model "
                "the source's config, e.g. --set model.absolute_positions=true"
            )
        kept = source.state_dict()
        model.load_state_dict(kept, strict=False)
    if "text_mean" not in kept and encoder is not None:
        model.set_text_stats(text_stats(cfg, encoder))
    return model


def export(out: Path, ema: VideoDiT, cfg: TeacherConfig, step: int) -> None:
    save_model(
        out / "model",
        ema,
        {
            "role": "teacher",
            "sampling": {"kind": "euler", **to_dict(cfg.sampling)},
            "trained_steps": step,
            "max_text": cfg.max_text,
        },
    )


def train(
    cfg: TeacherConfig, out: str | Path, *, max_steps: int | None = None, probe=None, progress: bool = True
) -> Path:
    """Run (or resume) teacher training into `out`; stops at cfg.steps or after `max_steps` more steps.

    probe(ema, encoder) -> {name: value} is logged as probe/name every cfg.probe_every steps.
    """
    out = Path(out)
    with held(out, "onestep teacher"):
        return _train(cfg, out, max_steps, probe, progress)


def _train(cfg: TeacherConfig, out: Path, max_steps: int | None, probe, progress: bool) -> Path:
    from onestep.train.checkpoint import Checkpointer
    from onestep.train.trainer import Trainer

    torch.set_num_threads(cfg.threads)
    config_path = out / "config.json"
    resolved = {"kind": "teacher_run", **to_dict(cfg)}
    if config_path.exists() and json.loads(config_path.read_text()).get("model") != resolved["model"]:
        raise UserError(f"{out} holds a run of another model: pass a new --out directory, or the same config to resume")
    config_path.write_text(json.dumps(resolved, indent=2) + "\n")

    encoder = TextEncoder(cfg.max_text, name=cfg.model.text_encoder)
    init = out / "init"
    if not (init / "model.safetensors").is_file():  # a resumed run's checkpoint overwrites these weights
        fresh = Checkpointer(out / "checkpoints").latest() is None
        save_model(init, initial_model(cfg, encoder if fresh else None), {"role": "init"})
    device = torch.device("cpu")
    roles = Roles(
        teacher=None, student=load_role(init, device, trainable=True), ema=load_role(init, device, trainable=False)
    )
    run = run_config(cfg)
    data = WorldData(
        seed=cfg.seed,
        batch_size=cfg.batch_size,
        tracks=cfg.tracks,
        spec=roles.student.spec,
        max_text=cfg.max_text,
        text_encoder=cfg.model.text_encoder,
        device=device,
    )
    probe_fn = (cfg.probe_every, lambda ema: probe(ema, encoder)) if probe is not None else None
    trainer = Trainer(
        run,
        roles,
        out,
        data,
        progress=progress,
        on_checkpoint=lambda ema, step: export(out, ema, cfg, step),
        probe=probe_fn,
    )
    trainer.run(max_steps)
    return out / "model"
