"""`onestep distill PRESET --teacher DIR --out RUN` and `onestep pairs`: resolve the config, build
the roles from the teacher's directory, attach the data, run the phases."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from onestep import methods, paths
from onestep.configs import presets
from onestep.configs.base import override, parse_overrides, to_dict
from onestep.configs.distill import DistillConfig
from onestep.data import cache as latent_cache
from onestep.data import pairs as ode_pairs
from onestep.data.world import WorldData
from onestep.errors import UserError
from onestep.files import held, write_json
from onestep.models.io import read_config, save_model, weights_hash
from onestep.models.kinds import kind_of
from onestep.models.text import reads
from onestep.parallel import launch
from onestep.parallel.checkpointing import checkpoint_roles
from onestep.parallel.fsdp import full_state, shard_roles
from onestep.train.roles import DTYPES, build_roles, load_role, resolve_device, student_copy


def resolve(preset: str, teacher: Path | None, overrides: list[str], data: Path | None = None) -> DistillConfig:
    """The preset with the overrides applied, the teacher, the cache, max_text and the text encoder filled in."""
    cfg = override(presets.preset(preset), parse_overrides(overrides))
    model_dir = Path(teacher or cfg.model.teacher or paths.TEACHER)
    teacher = read_config(model_dir)
    encoder, tokens = reads(teacher)
    max_text, text_encoder = cfg.data.max_text or tokens, cfg.data.text_encoder or encoder
    data_cfg = dataclasses.replace(
        cfg.data, max_text=max_text, text_encoder=text_encoder, cache=str(data) if data else cfg.data.cache
    )
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, teacher=str(model_dir)), data=data_cfg)


def checked_latent_size(cfg: DistillConfig) -> tuple[int, int, int] | None:
    """The run's latent video size: its cache's, for a teacher of a kind that trains on one (Wan); None
    for a kind that trains on the embedded world (the built-in DiT). Refuses, before anything is
    loaded, a teacher without the data it needs, a preset for the other task, and a cache made by
    another teacher or for the other task."""
    kind = kind_of(cfg.model.teacher)
    teacher = kind.read_config(Path(cfg.model.teacher))
    if not cfg.data.cache:
        if kind.data != "world":
            raise UserError(
                f"{cfg.model.teacher} is a {kind.name} model: it trains on a latent cache; make one with "
                "`onestep prepare` and pass --data CACHE"
            )
        return None
    if kind.data == "world":
        raise UserError(
            f"the {kind.title} {cfg.model.teacher} trains on the embedded world, not on a latent cache: leave out "
            "--data"
        )
    task = "i2v" if teacher["i2v"] else "t2v"
    if cfg.model.task and cfg.model.task != task:
        raise UserError(
            f"this preset is for {cfg.model.task.upper()} and {cfg.model.teacher} is a {task.upper()} Wan model: pass "
            f"a Wan2.1-{cfg.model.task.upper()} folder, or a preset for {task.upper()}"
        )
    cache = Path(cfg.data.cache)
    manifest = latent_cache.read_manifest(cache)
    latent_cache.check_teacher(manifest, cache, weights_hash(cfg.model.teacher), teacher["i2v"])
    return tuple(manifest["latent_size"])


def open_data(cfg: DistillConfig, spec, device, pairs=None):
    """data(start) -> Batches: the latent cache when the config names one, else the embedded world."""
    if cfg.data.cache:
        return latent_cache.CacheData(
            cfg.data.cache, seed=cfg.train.seed, batch_size=cfg.data.batch_size, spec=spec, device=device
        )
    return WorldData(
        seed=cfg.train.seed,
        batch_size=cfg.data.batch_size,
        tracks=cfg.data.tracks,
        spec=spec,
        max_text=cfg.data.max_text,
        text_encoder=cfg.data.text_encoder,
        device=device,
        pairs=pairs,
    )


def pairs_manifest(cfg: DistillConfig) -> dict:
    """What this config's pairs depend on; hashes the teacher's weights (once per command)."""
    return ode_pairs.manifest(cfg.data.pairs, cfg.data, cfg.train.seed, weights_hash(cfg.model.teacher))


def make_pairs(cfg: DistillConfig, folder: Path, made_with: dict, teacher=None, progress: bool = True) -> Path:
    """Make the missing ODE pairs of this config in `folder` (resumable), with the frozen teacher."""
    device = resolve_device(cfg.parallel.device)
    teacher = teacher or load_role(Path(cfg.model.teacher), device, trainable=False, dtype=DTYPES[cfg.model.dtype])
    data = open_data(cfg, teacher.spec, device)
    return ode_pairs.make(teacher, data, folder, cfg.data.pairs, cfg.train.seed, made_with, progress)


def student_sampling(cfg: DistillConfig) -> dict:
    """How the run's student samples by default (its config.json `sampling`): one step, or for a
    block-causal student one step per block and four for the first (ASD's 1*)."""
    if cfg.model.student_causal_block:
        return {"kind": "causal", "steps": 1, "first_block_steps": 4, "shift": cfg.train.student_shift}
    return {"kind": "renoise", "steps": 1, "shift": cfg.train.student_shift}


def sample_grid(max_text: int, text_encoder: str, sampling: dict, n: int = 4):
    """A function (model, path) writing samples of n fixed held-out clips by the student's own
    sampler (`sampling`: student_sampling), beside the truth."""
    from onestep import world
    from onestep.commands.sample import sampler_for
    from onestep.eval.sample import generate_for_clips
    from onestep.media import write_video
    from onestep.models.text import TextEncoder

    clips = [
        world.sample(track, 1_000_000_000 + i, "heldout") for i in range(n // 2) for track in ("shapes", "photocam")
    ]
    encoder = TextEncoder(max_text, name=text_encoder)

    def write(model, path: Path):
        was = model.training
        videos = generate_for_clips(model.eval(), encoder, clips, sampler_for({"sampling": sampling}, None, None, None))
        model.train(was)
        top = np.concatenate(list(videos), axis=2)  # clips side by side: (F, H, n W, 3)
        truth = np.concatenate([c.video for c in clips], axis=2)
        write_video(path, np.concatenate([top, truth], axis=1))

    return write


def run(
    *,
    preset: str,
    teacher: Path | None,
    out: Path,
    overrides: list[str],
    data: Path | None = None,
    max_steps: int | None = None,
    progress: bool = True,
) -> Path:
    cfg = resolve(preset, teacher, overrides, data)
    out = Path(out)
    resolved = json.loads(json.dumps({"kind": "distill_run", "preset": preset, **to_dict(cfg)}, default=str))
    changed = check_resume(out, resolved)  # before anything is loaded or made
    size = checked(cfg, preset)
    with held(out, f"onestep distill {preset}"):
        if (
            os.environ.get("RANK", "0") == "0" and not (out / TEACHER_FILE).is_file()
        ):  # which teacher the run starts from
            write_json(
                out / TEACHER_FILE,
                {"path": os.path.realpath(cfg.model.teacher), "hash": weights_hash(cfg.model.teacher)},
            )
        if changed and os.environ.get("RANK", "0") == "0":  # process 0 (the group is not joined yet)
            with open(out / "config-history.jsonl", "a") as f:  # config.json is the config of the last resume
                f.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M:%S"), "changed": changed}) + "\n")
        return train(cfg, preset, out, resolved, size, max_steps, progress)


def checked(cfg: DistillConfig, preset: str) -> tuple[int, int, int] | None:
    """Refuse, before the run folder is touched, a config whose parts do not fit together; returns the
    run's latent size (checked_latent_size)."""
    phases = [methods.build(p.method) for p in cfg.phases]
    causal = [p.name for p, m in zip(cfg.phases, phases) if p.steps > 0 and m.causal_student]
    if causal and not cfg.model.student_causal_block:
        raise UserError(
            f"phase {causal[0]} trains a block-causal student and model.student_causal_block is 0: --set "
            "model.student_causal_block=1 (latent frames per block)"
        )
    if cfg.model.student_causal_block and cfg.parallel.activation_checkpointing:
        raise UserError(
            "activation checkpointing recomputes a block in the backward, after a causal student's KV cache has "
            "moved on: --set parallel.activation_checkpointing=false with model.student_causal_block"
        )
    if cfg.model.student_init:
        check_student_init(cfg)
    size = checked_latent_size(cfg)
    if cfg.data.cache and any(p.steps > 0 and m.needs_pairs for p, m in zip(cfg.phases, phases)):
        raise UserError(
            f"preset {preset} regresses ODE pairs, which are made on the embedded world only: use a preset without "
            "them (no ode phase, ode_weight 0) on a latent cache"
        )
    return size


def train(
    cfg: DistillConfig,
    preset: str,
    out: Path,
    resolved: dict,
    size: tuple[int, int, int] | None,
    max_steps: int | None,
    progress: bool,
) -> Path:
    """The run of a resolved config into `out`, which this process holds."""
    from onestep.train.trainer import Trainer

    device = launch.init(resolve_device(cfg.parallel.device))
    torch.set_num_threads(cfg.train.threads)
    phases = [methods.build(p.method) for p in cfg.phases]
    needs_pairs = any(p.steps > 0 and m.needs_pairs for p, m in zip(cfg.phases, phases))
    roles = build_roles(
        cfg.model.teacher,
        phases,
        seed=cfg.train.seed,
        device=device,
        dtype=DTYPES[cfg.model.dtype],
        latent_size=size,
        student_lora_rank=cfg.model.student_lora_rank,
        student_causal_block=cfg.model.student_causal_block,
        student_init=cfg.model.student_init,
    )
    pairs = None
    if needs_pairs:
        made_with = pairs_manifest(cfg)
        folder = Path(cfg.data.pairs.path) if cfg.data.pairs.path else out / ode_pairs.FOLDER
        if not cfg.data.pairs.path and launch.rank() == 0:  # made once, by process 0, before the teacher is sharded
            make_pairs(cfg, folder, made_with, roles.teacher, progress)
        launch.barrier()
        pairs = ode_pairs.load(folder, cfg.data.pairs.count, made_with, device)
    batches = open_data(cfg, roles.student.spec, device, pairs)
    several = launch.launched()
    data_parallel = sequence_parallel(roles, cfg.parallel.sp) if several and cfg.parallel.sp > 1 else None
    if cfg.parallel.sp > 1 and not several:
        raise UserError(
            f"parallel.sp {cfg.parallel.sp} splits each sample over processes: launch with torchrun --nproc-per-node "
            f"(a multiple of {cfg.parallel.sp})"
        )
    if cfg.parallel.activation_checkpointing:
        checkpoint_roles(roles)
    if several:
        shard_roles(roles, bf16=cfg.train.precision == "bfloat16")

    def export(ema, step: int) -> Path:
        extra = {
            "role": "student",
            "preset": preset,
            "sampling": student_sampling(cfg),
            "trained_steps": step,
            "teacher": cfg.model.teacher,
            "max_text": cfg.data.max_text,
        }
        if (
            not cfg.data.cache
        ):  # the embedded world: which conditions its batches held (eval says when asked for another)
            extra["conditions"] = ["i2v", "t2v"] if cfg.data.p_t2v > 0 else ["i2v"]
        if not several:
            return save_model(out / "student", ema, extra)
        full = full_state(ema)  # every process gathers; process 0 writes it from an unsharded copy
        if launch.rank() == 0:
            copy = student_copy(
                cfg.model.teacher,
                torch.device("cpu"),
                seed=cfg.train.seed,
                dtype=DTYPES[cfg.model.dtype],
                latent_size=size,
                student_lora_rank=cfg.model.student_lora_rank,
                student_causal_block=cfg.model.student_causal_block,
                student_init=cfg.model.student_init,
            )
            copy.load_state_dict({k: v.cpu() for k, v in full.items()})
            save_model(out / "student", copy, extra)
        launch.barrier()
        return out / "student"

    if launch.rank() == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(resolved, indent=2) + "\n")
    launch.barrier()
    sample_fn = (
        sample_grid(cfg.data.max_text, cfg.data.text_encoder, student_sampling(cfg))
        if cfg.train.sample_every and not cfg.data.cache and not several
        else None
    )
    return Trainer(
        cfg, roles, out, batches, progress=progress, sample_fn=sample_fn, export_fn=export, data_parallel=data_parallel
    ).run(max_steps)


def check_student_init(cfg) -> None:
    """model.student_init must be a model of the teacher's shape (its causal mode aside)."""
    from onestep.models.io import read_config

    shape = lambda d: {k: v for k, v in read_config(d).get("model", {}).items() if k != "causal_block"}  # noqa: E731
    if shape(cfg.model.student_init) != shape(cfg.model.teacher):
        raise UserError(
            f"model.student_init {cfg.model.student_init} is not a model of the teacher's shape: start from a student "
            f"distilled from {cfg.model.teacher}"
        )


def sequence_parallel(roles, sp: int) -> tuple[int, int]:
    """Split every network of the run over sequence groups of `sp` processes, each by its kind's plan
    (parallel/sequence.py); returns (data-parallel index, count) for the trainer's chunks."""
    from onestep.models.lora import LoraScore
    from onestep.parallel import sequence

    group, index, count = sequence.groups(sp)
    models = {
        id(m): m
        for m in (r.base if isinstance(r, LoraScore) else r for r in roles.present().values())
        if hasattr(m, "blocks")
    }
    for model in models.values():
        sequence.apply(model, group, sp, launch.rank() % sp)
    return index, count


FREE_ON_RESUME = (
    "train.threads",
    "train.log_every",
    "train.checkpoint_every",
    "train.sample_every",
    "train.accum",
    "parallel.device",
    "parallel.activation_checkpointing",
    "data.pairs.path",
)  # how a run is run, not what it trains
TEACHER_FILE = "teacher.json"  # the run's teacher: its path and weights hash, checked on resume
SAFE_ON_RESUME = (
    ".lr",
    ".critic_lr",
    ".grad_clip",
)  # a phase's optimiser settings: what a diverged run is resumed with (recorded in config-history.jsonl)


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= flatten(v, f"{prefix}{k}.")
        elif isinstance(v, list) and v and all(isinstance(x, dict) and "name" in x for x in v):  # phases, by name
            for x in v:
                out |= flatten({key: val for key, val in x.items() if key != "name"}, f"{prefix}{x['name']}.")
        else:
            out[prefix + k] = v
    return out


def check_resume(out: Path, resolved: dict) -> dict:
    """A run directory with checkpoints resumes only with the config that made them, up to how it is run
    (FREE_ON_RESUME) and the phases' learning rates and clip (SAFE_ON_RESUME); returns those of the
    latter that changed, {key: [before, now]}, for the run's config history."""
    from onestep.train.checkpoint import Checkpointer

    path = out / "config.json"
    if not path.is_file() or Checkpointer(out / "checkpoints").latest() is None:
        return {}
    old, new = flatten(json.loads(path.read_text())), flatten(resolved)
    for d in (old, new):  # the same teacher through a symlink or `..` is the same teacher
        if d.get("model.teacher"):
            d["model.teacher"] = os.path.realpath(d["model.teacher"])
    made_by = out / TEACHER_FILE
    if made_by.is_file() and new.get("model.teacher"):
        was, now = json.loads(made_by.read_text()).get("hash"), weights_hash(new["model.teacher"])
        if was != now:
            raise UserError(
                f"the teacher at {new['model.teacher']} is not the one {out} started from (weights {was} then, {now} "
                "now): pass that teacher, or a new --out"
            )
    changed = {k: [old.get(k), new.get(k)] for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)}
    safe = {k: v for k, v in changed.items() if k.endswith(SAFE_ON_RESUME)}
    differ = sorted(
        (k for k in changed if not k.startswith(FREE_ON_RESUME) and k not in safe), key=lambda k: (k != "preset", k)
    )
    if differ:
        shown = ", ".join(f"{k} ({old.get(k)!r} there, {new.get(k)!r} now)" for k in differ[:4])
        raise UserError(
            f"{out} holds checkpoints of another config: {shown}{' ...' if len(differ) > 4 else ''}; resume with the "
            "same preset and settings (learning rates and grad_clip may change), or pass a new --out"
        )
    return safe


def pairs(*, teacher: Path | None, out: Path, preset: str, overrides: list[str], progress: bool = True) -> Path:
    """`onestep pairs`: the ODE pairs of a preset's data config, for `--set data.pairs.path=OUT`."""
    cfg = resolve(preset, teacher, overrides)
    kind = kind_of(cfg.model.teacher)
    if kind.data != "world":
        raise UserError(
            f"{cfg.model.teacher} is a {kind.title} model: ODE pairs are made on the embedded world with a built-in "
            "DiT teacher; a Wan run trains on its latent cache with a preset without an ode phase"
        )
    torch.set_num_threads(cfg.train.threads)
    return make_pairs(cfg, Path(out), pairs_manifest(cfg), progress=progress)
