"""Train the teacher on the world with flow matching (methods/flow_matching.py).

Classifier-free guidance needs an unconditional model, so the prompt is dropped (replaced by the
empty prompt) with p_drop_text; the first frame is dropped with p_drop_image, which also teaches
text-to-video. Resumable: the latest checkpoint in OUT/checkpoints is picked up, and batches,
times and noise are functions of (seed, step), so a resumed run matches an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

from onestep import flow
from onestep.configs.base import to_dict
from onestep.configs.teacher import TeacherConfig
from onestep.errors import UserError
from onestep.methods.flow_matching import flow_matching_loss, motion_weights
from onestep.models.io import load_model, save_model
from onestep.models.text import TextEncoder
from onestep.models.video_dit import VideoDiT
from onestep.train.checkpoint import Checkpointer, OptimizerState
from onestep.train.ema import make_ema, update_ema, warmup_decay
from onestep.train.seeding import step_generator
from onestep.types import Cond
from onestep.world.clip import WorldConfig
from onestep.world.stream import WorldStream, batch_at


def sample_times(cfg: TeacherConfig, n: int, g: torch.Generator) -> torch.Tensor:
    tc = cfg.time
    t = flow.sample_t(n, kind=tc.kind, mean=tc.mean, std=tc.std, s=tc.shift, generator=g)
    uniform = torch.rand(n, generator=g)
    t = torch.where(torch.rand(n, generator=g) < tc.uniform_fraction, uniform, t)
    return t.clamp(1e-3, 1.0)


def learning_rate(cfg: TeacherConfig, step: int) -> float:
    """Linear warmup, constant, then a linear decay to 10% over the last (1 - lr_decay_from) of the run."""
    lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup)
    decay_start = cfg.lr_decay_from * cfg.steps
    if step >= decay_start:
        lr *= 1.0 - 0.9 * (step - decay_start) / max(cfg.steps - decay_start, 1)
    return lr


def drop_conditions(cfg: TeacherConfig, cond: Cond, null_text: torch.Tensor, null_mask: torch.Tensor, g: torch.Generator) -> Cond:
    """CFG dropout: the empty prompt with p_drop_text, no first frame with p_drop_image."""
    B = cond.batch_size
    drop_text = torch.rand(B, generator=g) < cfg.p_drop_text
    text = torch.where(drop_text[:, None, None], null_text.expand(B, -1, -1), cond.text)
    mask = torch.where(drop_text[:, None], null_mask.expand(B, -1), cond.text_mask)
    keep_image = (torch.rand(B, generator=g) >= cfg.p_drop_image).float()
    return Cond(text, mask, cond.latent, keep_image)


def text_stats(cfg: TeacherConfig, encoder: TextEncoder) -> torch.Tensor:
    """Pooled text of `text_stats_prompts` training prompts (both tracks, seeds of steps 0, 1, ...)."""
    prompts: list[str] = []
    step = 0
    while len(prompts) < cfg.text_stats_prompts:
        prompts += batch_at(step, seed=cfg.seed, batch_size=cfg.batch_size, tracks=cfg.tracks, config=WorldConfig(cfg.frames, cfg.size)).prompts
        step += 1
    pooled = []
    for i in range(0, len(prompts), 256):
        text, mask = encoder(prompts[i : i + 256])
        pooled.append(VideoDiT.pooled_text(Cond(text, mask)))
    return torch.cat(pooled)


def initial_model(cfg: TeacherConfig, encoder: TextEncoder) -> VideoDiT:
    """A fresh model (a function of the seed), optionally started from `init_from`'s weights, with the
    pooled-text standardisation set from training prompts unless the source brings its own (the
    weights it trained were fitted to those)."""
    torch.manual_seed(cfg.seed)
    model = VideoDiT(cfg.model)
    kept = {}
    if cfg.init_from:
        source, _ = load_model(cfg.init_from, strict=False)
        own = model.state_dict()
        kept = {k: v for k, v in source.state_dict().items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(kept, strict=False)
    if "text_mean" not in kept:
        model.set_text_stats(text_stats(cfg, encoder))
    return model


def export(out: Path, ema: VideoDiT, cfg: TeacherConfig, step: int) -> None:
    save_model(out / "model", ema, {"role": "teacher", "sampling": {"kind": "euler", **to_dict(cfg.sampling)}, "trained_steps": step, "max_text": cfg.max_text})


def train(cfg: TeacherConfig, out: str | Path, *, max_steps: int | None = None, probe=None, progress: bool = True) -> Path:
    """Run (or resume) teacher training into `out`; stops at cfg.steps or after `max_steps` more steps."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from torch.utils.tensorboard import SummaryWriter

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    config_path = out / "config.json"
    resolved = {"kind": "teacher_run", **to_dict(cfg)}
    if config_path.exists() and json.loads(config_path.read_text()).get("model") != resolved["model"]:
        raise UserError(f"{out} holds a run of another model: pass a new --out directory, or the same config to resume")
    config_path.write_text(json.dumps(resolved, indent=2) + "\n")

    encoder = TextEncoder(cfg.max_text)
    ckpt = Checkpointer(out / "checkpoints")
    model = VideoDiT(cfg.model) if ckpt.latest() is not None else initial_model(cfg, encoder)
    ema = make_ema(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    state = {"model": model, "ema": ema, "optimizer": OptimizerState(model, optimizer)}
    start = 0
    if (last := ckpt.latest()) is not None:
        ckpt.load(last, state)
        start = last
    end = cfg.steps if max_steps is None else min(cfg.steps, start + max_steps)

    null_text, null_mask = encoder.null(1)
    stream = WorldStream(start=start, seed=cfg.seed, batch_size=cfg.batch_size, tracks=cfg.tracks, config=WorldConfig(cfg.frames, cfg.size), max_text=cfg.max_text)
    loader = iter(torch.utils.data.DataLoader(stream, batch_size=None, num_workers=1, prefetch_factor=4, persistent_workers=False))
    writer = SummaryWriter(str(out / "logs"))
    columns = [TextColumn("teacher"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn()]
    window, t0 = [], time.time()
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("train", total=cfg.steps, completed=start, loss=float("nan"))
        for step in range(start, end):
            batch = next(loader)
            g = step_generator(cfg.seed, step)
            cond = drop_conditions(cfg, Cond(batch.text, batch.text_mask, batch.image), null_text, null_mask, g)
            t = sample_times(cfg, batch.video.shape[0], g)
            noise = torch.randn(batch.video.shape, generator=g)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(cfg, step)
            weight = motion_weights(batch.video, cfg.motion_weight) if cfg.motion_weight > 0 else None
            loss = flow_matching_loss(model, batch.video, cond, t, noise, weight).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            if not (math.isfinite(loss.item()) and math.isfinite(grad_norm.item())):
                raise RuntimeError(
                    f"training diverged at step {step} (loss {loss.item()}, grad norm {grad_norm.item()}); "
                    f"nothing was saved after it; the last good checkpoint is {ckpt.path(ckpt.latest()) if ckpt.latest() is not None else 'none'}"
                )
            optimizer.step()
            update_ema(ema, model, warmup_decay(cfg.ema_decay, step))

            window.append(loss.item())
            done = step + 1
            bar.update(task, completed=done, loss=sum(window[-50:]) / len(window[-50:]))
            if done % cfg.log_every == 0:
                writer.add_scalar("teacher/loss", sum(window) / len(window), done)
                writer.add_scalar("teacher/grad_norm", grad_norm.item(), done)
                writer.add_scalar("teacher/steps_per_s", len(window) / (time.time() - t0), done)
                window, t0 = [], time.time()
            if done % cfg.checkpoint_every == 0 or done == end:
                ckpt.save(done, state, {"loss": loss.item()})
                export(out, ema, cfg, done)
            if probe is not None and cfg.probe_every and done % cfg.probe_every == 0:
                for name, value in probe(ema, encoder).items():
                    writer.add_scalar(f"probe/{name}", value, done)
                    writer.flush()
    writer.close()
    return out / "model"
