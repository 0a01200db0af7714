"""The method-agnostic distillation loop (STYLE.md 3-4, 10).

A run is a list of phases; each phase is one method, which says through `updates(step)` which role
steps on which loss; a method that needs data made once per run (ODE pairs) makes it in `prepare`,
called when its phase is entered, and keeps it in the run directory. The trainer owns everything
else: one optimiser per trainable role and phase, gradient clipping, the generator's EMA, per-step
seeding from (seed, rank, step), atomic DCP checkpoints (each phase's last one kept), TensorBoard
logs, a progress bar, sample grids, and a divergence guard that stops on a non-finite loss or
gradient before anything is stepped or saved. It never names a recipe.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from onestep import methods
from onestep.configs.base import to_dict
from onestep.configs.distill import DistillConfig
from onestep.models.io import save_model
from onestep.models.lora import LoraState, has_lora
from onestep.train.checkpoint import Checkpointer, OptimizerState
from onestep.train.ema import make_ema, update_ema
from onestep.train.seeding import step_generator
from onestep.types import Nets


class Diverged(RuntimeError):
    pass


def phase_at(cfg: DistillConfig, step: int) -> tuple[int, int]:
    """(phase index, step within the phase) of global step `step`."""
    start = 0
    for i, p in enumerate(cfg.phases):
        if step < start + p.steps:
            return i, step - start
        start += p.steps
    return len(cfg.phases) - 1, step - (start - cfg.phases[-1].steps)


class Trainer:
    def __init__(self, cfg: DistillConfig, nets: Nets, out: str | Path, data, *, teacher_dir: str | None = None, progress: bool = True, sample_fn=None):
        self.cfg, self.nets, self.out, self.data = cfg, nets, Path(out), data
        self.teacher_dir, self.progress, self.sample_fn = teacher_dir, progress, sample_fn
        self.methods = [methods.build(p.method) for p in cfg.phases]
        self.ckpt = Checkpointer(self.out / "checkpoints")
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.phase = -1

    # -- phases, roles and state -----------------------------------------------------------------

    def enter_phase(self, index: int, fresh: bool) -> None:
        """Set up methods up to `index` (adapters and heads exist from then on) and its optimisers."""
        for i in range(index + 1):
            torch.manual_seed(self.cfg.seed * 1000 + i)  # new adapters and heads start the same in every run
            self.methods[i].setup(self.nets)
        p, method = self.cfg.phases[index], self.methods[index]
        for module in (self.nets.generator, self.nets.teacher, self.nets.critic, self.nets.generator_ema):
            module.requires_grad_(False)  # `only(role)` opens the role being updated, nothing else
        if hasattr(method, "prepare"):  # data a method makes once per run (ODE pairs), kept in the run directory
            method.prepare(self.nets, self.out, self.data, self.cfg.seed, self.progress)
        self.trainable = method.trainable(self.nets)
        self.optimizers = {
            role: torch.optim.Adam(params, lr=p.lr if role == "generator" else p.critic_lr, betas=p.betas if role == "generator" else p.critic_betas)
            for role, params in self.trainable.items()
        }
        if fresh and p.ema_reset:
            self.nets.generator_ema.load_state_dict(self.nets.generator.state_dict())
        self.phase = index

    def state(self) -> dict:
        state = {"generator": self.nets.generator, "generator_ema": self.nets.generator_ema, "critic": self.nets.critic}
        if has_lora(self.nets.teacher):
            state["teacher_adapters"] = LoraState(self.nets.teacher)
        for role, opt in self.optimizers.items():
            owner = self.nets.generator if role == "generator" else _ParamOwner(self.trainable[role])
            state[f"optim/{role}"] = OptimizerState(owner, opt)
        return state

    def only(self, role: str) -> None:
        """Gradients flow into `role` alone during its update (the EMA and the teacher never)."""
        for params in self.trainable.values():
            for q in params:
                q.requires_grad_(False)
        for q in self.trainable[role]:
            q.requires_grad_(True)

    # -- the loop --------------------------------------------------------------------------------

    def resume(self) -> int:
        last = self.ckpt.latest()
        if last is None:
            self.enter_phase(phase_at(self.cfg, 0)[0], fresh=True)  # a phase of 0 steps is skipped, never prepared
            return 0
        self.enter_phase(phase_at(self.cfg, last - 1)[0], fresh=False)
        self.ckpt.load(last, self.state())
        return last

    def run(self, max_steps: int | None = None) -> Path:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        from torch.utils.tensorboard import SummaryWriter

        torch.set_num_threads(self.cfg.threads)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps({"kind": "distill_run", "teacher": self.teacher_dir, **to_dict(self.cfg)}, indent=2, default=str) + "\n")
        start = self.resume()
        end = self.cfg.total_steps if max_steps is None else min(self.cfg.total_steps, start + max_steps)
        batches = self.data(start)
        writer = SummaryWriter(str(self.out / "logs"))
        logs: dict[str, list[float]] = defaultdict(list)
        t0, logged = time.time(), start
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
        with Progress(*columns, disable=not self.progress) as bar:
            task = bar.add_task(self.cfg.phases[self.phase].name, total=self.cfg.total_steps, completed=start)
            for step in range(start, end):
                index, in_phase = phase_at(self.cfg, step)
                if index != self.phase:
                    self.enter_phase(index, fresh=True)
                    bar.update(task, description=self.cfg.phases[index].name)
                batch = next(batches)
                for k, update in enumerate(self.methods[index].updates(in_phase)):
                    for name, value in self.apply(update, batch, step, k).items():
                        logs[name].append(value)
                done = step + 1
                bar.update(task, completed=done)
                if done % self.cfg.log_every == 0 or done == end:
                    for name, values in logs.items():
                        writer.add_scalar(name, float(np.mean(values)), done)
                    writer.add_scalar("train/steps_per_s", (done - logged) / max(time.time() - t0, 1e-9), done)
                    logs.clear()
                    t0, logged = time.time(), done
                phase_end = in_phase == self.cfg.phases[index].steps - 1  # kept, to rerun the later phases from
                if done % self.cfg.checkpoint_every == 0 or done == end or phase_end:
                    self.ckpt.save(done, self.state(), {"phase": self.cfg.phases[index].name}, kept=phase_end)
                if self.sample_fn is not None and self.cfg.sample_every and done % self.cfg.sample_every == 0:
                    self.sample_fn(self.nets.generator_ema, self.out / "samples" / f"step_{done:06d}.gif")
        writer.close()
        return self.export(end)

    def apply(self, update, batch, step: int, k: int) -> dict[str, float]:
        p = self.cfg.phases[self.phase]
        self.only(update.role)
        g = step_generator(self.cfg.seed, step, stream=k)
        out = update.loss(self.nets, batch, g)
        loss = out.loss
        if not math.isfinite(loss.item()):
            raise self.diverged(step, f"{update.role} loss is {loss.item()}")
        opt = self.optimizers[update.role]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.trainable[update.role], p.grad_clip)
        if not math.isfinite(norm.item()):
            raise self.diverged(step, f"{update.role} gradient norm is {norm.item()}")
        opt.step()
        opt.zero_grad(set_to_none=True)
        if update.role == "generator":
            update_ema(self.nets.generator_ema, self.nets.generator, p.ema_decay)
        return {**out.logs, f"{update.role}/loss": loss.item(), f"{update.role}/grad_norm": norm.item()}

    def diverged(self, step: int, what: str) -> Diverged:
        last = self.ckpt.latest()
        where = f"the last good checkpoint is {self.ckpt.path(last)}" if last is not None else "no checkpoint was written yet"
        return Diverged(f"training diverged at step {step}: {what}; nothing was stepped or saved after it; {where} (lower the learning rate or raise grad_clip and resume)")

    def export(self, step: int) -> Path:
        g = self.nets.generator_ema
        extra = {"role": "student", "sampling": {"kind": "renoise", "steps": 1, "shift": self.cfg.student_shift}, "trained_steps": step, "teacher": self.teacher_dir, "max_text": 32}
        return save_model(self.out / "student", g, extra)


class _ParamOwner(torch.nn.Module):
    """A module that owns a list of parameters, so optimiser state is keyed by stable names."""

    def __init__(self, params: list):
        super().__init__()
        self.params = torch.nn.ParameterList(params)
