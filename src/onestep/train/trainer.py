"""The method-agnostic distillation loop (STYLE.md 3-4, 10).

A run is a list of phases; each phase is one method (types.Method), whose `step` returns, for each
training step, the ordered updates: which optimiser group (a role) steps on which loss. The trainer
owns everything else: one optimiser per group and phase, gradient clipping, the student's EMA,
row-keyed generators from (seed, step, row) on the run's device, each role's own optimiser settings
(PhaseConfig.optim), autocast, atomic DCP checkpoints
(each phase's last one kept), TensorBoard logs, a progress bar, sample grids, and a divergence guard
that stops on a non-finite loss or gradient before anything is stepped or saved. It never names a
recipe and never builds a network: the roles come built (train/roles.py).

At every log step it also asks the phase's method how well its discriminator separates
(`Method.separation`) on a held-out batch, the data of a step the run never reaches read with the same
draws each time, so the readings of one run are comparable. They go to TensorBoard (`disc/accuracy`)
and to RUN/summary.json: per phase, every reading, its mean and the share above 0.6.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from onestep import methods, seeding
from onestep.configs.distill import DistillConfig
from onestep.errors import UserError
from onestep.files import write_json
from onestep.train.checkpoint import Checkpointer, OptimizerState
from onestep.train.ema import update_ema, warmup_decay
from onestep.types import DataSource, Roles


def process_rank() -> int:
    """This process's rank in the default process group (0 without one): each rank draws its own noise."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def mean_over_ranks(logs: dict[str, float]) -> dict[str, float]:
    """Each logged value averaged over the processes (their keys are the same: the same updates ran)."""
    if world_size() == 1 or not logs:
        return logs
    import torch.distributed as dist

    values = torch.tensor([logs[k] for k in sorted(logs)], dtype=torch.float64)
    dist.all_reduce(values)
    return dict(zip(sorted(logs), (values / world_size()).tolist()))


class Stopped(UserError):
    """SIGTERM (a scheduler's pre-emption, a kill): the step in flight finished, a checkpoint written."""


class TermFlag:
    """Catches SIGTERM while the loop runs; `asked()` is true on every process once any was signalled
    (an all-reduce per step under torchrun, so all stop after the same step and save together)."""

    def __enter__(self):
        import signal

        self.signalled, self.previous = False, None
        try:
            self.previous = signal.signal(signal.SIGTERM, self._catch)
        except ValueError:  # not the main thread: leave the signal alone
            pass
        return self

    def _catch(self, signum, frame) -> None:
        self.signalled = True

    def asked(self) -> bool:
        if world_size() == 1:
            return self.signalled
        import torch.distributed as dist

        flag = torch.tensor([float(self.signalled)])
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def __exit__(self, *exc) -> None:
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


class Diverged(UserError):
    """Training stopped on a non-finite loss or gradient: one line (the CLI prints UserErrors so) naming the step and
    the checkpoint to resume from."""


def phase_at(cfg: DistillConfig, step: int) -> tuple[int, int]:
    """(phase index, step within the phase) of global step `step`."""
    start = 0
    for i, p in enumerate(cfg.phases):
        if step < start + p.steps:
            return i, step - start
        start += p.steps
    return len(cfg.phases) - 1, step - (start - cfg.phases[-1].steps)


HELD_OUT_STEP = 2**40  # the data of this step is the held-out batch: no run reaches it
SEPARATED = 0.6  # the summary's share of readings above this accuracy


class Trainer:
    def __init__(
        self,
        cfg: DistillConfig,
        roles: Roles,
        out: str | Path,
        data: DataSource,
        *,
        progress: bool = True,
        sample_fn=None,
        export_fn=None,
        on_checkpoint=None,
        probe=None,
        data_parallel: tuple[int, int] | None = None,
    ):
        """data(start) iterates types.Batch from step `start` (a types.DataSource: the global batch, or,
        once told this process's chunks by `shard`, only those); export_fn(ema, step) writes the student at
        the end; on_checkpoint(ema, step) runs after each checkpoint; probe = (every, fn(ema) -> {name:
        value}) logs `probe/name`; data_parallel = (this process's index, count) among the processes that
        take different samples (default: every process; the processes of a sequence-parallel group share
        theirs)."""
        self.cfg, self.roles, self.out, self.data = cfg, roles, Path(out), data
        self.progress, self.sample_fn, self.export_fn = progress, sample_fn, export_fn
        self.on_checkpoint, self.probe = on_checkpoint, probe
        self.methods = [methods.build(p.method) for p in cfg.phases]
        self.device = next(roles.student.parameters()).device
        self.rank = process_rank()
        # the global batch is n_chunks equal chunks, this process's are `chunks`; every loss draws row
        # by row (seeding.Draws), so N processes x A micro-batches give the updates of any other split
        accum, batch = cfg.train.accum, cfg.data.batch_size
        index, count = data_parallel or (self.rank, world_size())
        self.n_chunks, self.chunks = count * accum, [index * accum + m for m in range(accum)]
        if batch % self.n_chunks:
            raise UserError(
                f"data.batch_size {batch} does not split into {count} processes x {accum} micro-batches: use a "
                f"multiple of {self.n_chunks}"
            )
        self.ckpt = Checkpointer(self.out / "checkpoints")
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.phase = -1
        self.held: list | None = None  # this process's parts of the held-out batch, read when first needed
        self.readings: dict[str, dict[str, dict[int, float]]] = {}  # {phase: {name: {step: value}}}

    # -- phases, groups and state ----------------------------------------------------------------

    def enter_phase(self, index: int, fresh: bool) -> None:
        """Close every role, then make the optimisers of phase `index`'s groups."""
        p, method = self.cfg.phases[index], self.methods[index]
        for module in self.roles.present().values():
            module.requires_grad_(False)  # `only(group)` opens the group being updated, nothing else
        self.groups = method.groups(self.roles)
        settings = {group: p.optim(group) for group in self.groups}
        self.base_lr = {group: s["lr"] for group, s in settings.items()}
        self.clip = {group: s["grad_clip"] for group, s in settings.items()}
        self.optimizers = {
            group: torch.optim.AdamW(
                params,
                lr=settings[group]["lr"],
                betas=settings[group]["betas"],
                weight_decay=settings[group]["weight_decay"],
            )
            for group, params in self.groups.items()
        }
        if fresh and p.ema_reset:
            self.roles.ema.load_state_dict(self.roles.student.state_dict())
        self.phase = index

    def state(self) -> dict:
        state = {
            name: m for name, m in self.roles.present().items() if name != "teacher"
        }  # the frozen teacher is its model dir
        for group, opt in self.optimizers.items():
            owner = self.roles.student if group == "student" else _ParamOwner(self.groups[group])
            state[f"optim/{group}"] = OptimizerState(owner, opt)
        return state

    def only(self, group: str) -> None:
        """Gradients flow into `group` alone during its update (the EMA and the teacher never)."""
        for params in self.groups.values():
            for q in params:
                q.requires_grad_(False)
        for q in self.groups[group]:
            q.requires_grad_(True)

    # -- the loop --------------------------------------------------------------------------------

    def resume(self) -> int:
        """The step to start from: the newest intact checkpoint's (loaded), else 0."""

        def state_at(step: int) -> dict:
            self.enter_phase(phase_at(self.cfg, step - 1)[0], fresh=False)
            return self.state()

        last = self.ckpt.restore(state_at)
        if last is None:
            self.enter_phase(phase_at(self.cfg, 0)[0], fresh=True)  # a phase of 0 steps is skipped
            return 0
        return last

    def run(self, max_steps: int | None = None) -> Path:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )
        from torch.utils.tensorboard import SummaryWriter

        t = self.cfg.train
        torch.set_num_threads(t.threads)
        self.out.mkdir(parents=True, exist_ok=True)
        start = self.resume()
        self.load_readings(start)
        end = self.cfg.total_steps if max_steps is None else min(self.cfg.total_steps, start + max_steps)
        local = self.n_chunks > 1 and self.data.shard(self.chunks, self.n_chunks)  # batches of these chunks only
        batches = self.data(start)
        writer = (
            SummaryWriter(str(self.out / "logs")) if self.rank == 0 else _Silent()
        )  # process 0 logs (the values are already means over processes)
        logs: dict[str, list[float]] = defaultdict(list)
        t0, logged = time.time(), start
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("student loss {task.fields[loss]:.4f}"),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, disable=not self.progress or self.rank != 0) as bar, TermFlag() as term:
            task = bar.add_task(
                self.cfg.phases[self.phase].name, total=self.cfg.total_steps, completed=start, loss=float("nan")
            )
            for step in range(start, end):
                index, in_phase = phase_at(self.cfg, step)
                if index != self.phase:
                    self.enter_phase(index, fresh=True)
                    bar.update(task, description=self.cfg.phases[index].name)
                parts = self.micro_batches(next(batches), local)
                plans = [
                    self.methods[index].step(part, self.roles, self.streams(step, c), in_phase)
                    for part, c in zip(parts, self.chunks)
                ]
                for updates in zip(*plans):  # the k-th update of every micro-batch: one optimiser step
                    for name, value in self.apply(list(updates), step).items():
                        logs[name].append(value)
                done = step + 1
                recent = logs.get("student/loss", [])[-50:]
                bar.update(task, completed=done, **({"loss": sum(recent) / len(recent)} if recent else {}))
                if done % t.log_every == 0 or done == end:
                    for name, value in self.separation(index, local).items():
                        logs[name].append(value)
                        self.readings.setdefault(self.cfg.phases[index].name, {}).setdefault(name, {})[done] = value
                    for name, values in logs.items():
                        writer.add_scalar(name, float(np.mean(values)), done)
                    writer.add_scalar("train/steps_per_s", (done - logged) / max(time.time() - t0, 1e-9), done)
                    logs.clear()
                    t0, logged = time.time(), done
                phase_end = in_phase == self.cfg.phases[index].steps - 1  # kept, to rerun the later phases from
                stop = term.asked()
                if done % t.checkpoint_every == 0 or done == end or phase_end or stop:
                    self.ckpt.save(done, self.state(), {"phase": self.cfg.phases[index].name}, kept=phase_end)
                    self.write_summary()
                    if self.on_checkpoint is not None:
                        self.on_checkpoint(self.roles.ema, done)
                if self.probe is not None and self.probe[0] and done % self.probe[0] == 0:
                    for name, value in self.probe[1](self.roles.ema).items():
                        writer.add_scalar(f"probe/{name}", value, done)
                    writer.flush()
                if self.sample_fn is not None and t.sample_every and done % t.sample_every == 0:
                    self.sample_fn(self.roles.ema, self.out / "samples" / f"step_{done:06d}.gif")
                if stop and done < end:
                    writer.close()
                    raise Stopped(
                        f"stopped by SIGTERM after step {done} of {self.cfg.total_steps}: {self.ckpt.path(done)} "
                        "written; run the same command to resume"
                    )
        writer.close()
        return self.export_fn(self.roles.ema, end) if self.export_fn is not None else self.out

    # -- the discriminator's held-out readings ------------------------------------------------------

    @torch.no_grad()
    def separation(self, index: int, local: bool) -> dict[str, float]:
        """Phase `index`'s method's `separation` on this process's parts of the held-out batch, the
        same draws every time; means over the parts and the processes."""
        method = self.methods[index]
        if "disc_head" not in method.roles:  # no discriminator to read (Method.separation would say {})
            return {}
        if self.held is None:
            self.held = self.micro_batches(next(iter(self.data(HELD_OUT_STEP))), local)
        with self.autocast():  # the features the head reads in training, in training's precision
            parts = [
                method.separation(part, self.roles, self.streams(HELD_OUT_STEP, c)())
                for part, c in zip(self.held, self.chunks)
            ]
        readings = {name: float(np.mean([p[name] for p in parts])) for name in parts[0]}
        return mean_over_ranks(readings)

    def load_readings(self, start: int) -> None:
        """The readings of steps up to `start` from RUN/summary.json (a resumed run continues its own)."""
        path = self.out / "summary.json"
        if start == 0 or not path.exists():
            return
        import json

        saved = json.loads(path.read_text()).get("discriminator", {})
        self.readings = {
            phase: {name: {int(k): v for k, v in r["steps"].items() if int(k) <= start} for name, r in names.items()}
            for phase, names in saved.items()
        }

    def write_summary(self) -> None:
        """RUN/summary.json: per phase and reading, every value by step, the mean and the share above SEPARATED."""
        if self.rank != 0 or not self.readings:
            return
        summary = {
            phase: {
                name: {
                    "mean": float(np.mean(list(v.values()))),
                    f"share_above_{SEPARATED}": float(np.mean([x > SEPARATED for x in v.values()])),
                    "steps": {str(k): x for k, x in sorted(v.items())},
                }
                for name, v in names.items()
                if v
            }
            for phase, names in self.readings.items()
        }
        write_json(self.out / "summary.json", {"discriminator": summary})

    def micro_batches(self, batch, local: bool) -> list:
        """This process's chunks of a step's batch, one per micro-batch (`local`: the source gave only them)."""
        if local:
            return [batch.chunk(i, len(self.chunks)) for i in range(len(self.chunks))]
        return [batch.chunk(c, self.n_chunks) for c in self.chunks] if self.n_chunks > 1 else [batch]

    def streams(self, step: int, chunk: int):
        """types.Rng of chunk `chunk` of step `step`: its rows' generators, on the run's device."""
        return seeding.streams(
            self.cfg.train.seed, step, chunk * (self.cfg.data.batch_size // self.n_chunks), device=self.device
        )

    def autocast(self):
        """bf16 autocast under train.precision=bfloat16 (losses and readings alike), else nothing."""
        if self.cfg.train.precision == "bfloat16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def apply(self, updates: list, step: int) -> dict[str, float]:
        """One optimiser step of the updates' group: each micro-batch's loss backpropagated with weight
        1 / (micro-batches), so the gradient is that of the mean over the global batch (FSDP averages
        over processes); logs are means over micro-batches and processes."""
        p, group = self.cfg.phases[self.phase], updates[0].group
        in_phase = phase_at(self.cfg, step)[1]
        self.only(group)
        autocast = self.autocast()
        opt = self.optimizers[group]
        for g in opt.param_groups:
            g["lr"] = self.base_lr[group] * p.lr_scale(in_phase)
        opt.zero_grad(set_to_none=True)
        logs: dict[str, list[float]] = defaultdict(list)
        for update in updates:
            with autocast:
                out = update.loss()
            if not math.isfinite(out.loss.item()):
                raise self.diverged(step, f"{group} loss is {out.loss.item()}")
            (out.loss / len(updates)).backward()
            for name, value in {**out.logs, f"{group}/loss": out.loss.item()}.items():
                logs[name].append(value)
        norm = torch.nn.utils.clip_grad_norm_(self.groups[group], self.clip[group])
        norm = norm.full_tensor() if hasattr(norm, "full_tensor") else norm  # sharded gradients: a DTensor
        if not math.isfinite(norm.item()):
            raise self.diverged(step, f"{group} gradient norm is {norm.item()}")
        opt.step()
        opt.zero_grad(set_to_none=True)
        if group == "student":
            update_ema(
                self.roles.ema, self.roles.student, warmup_decay(p.ema_decay, step) if p.ema_warmup else p.ema_decay
            )
        return mean_over_ranks(
            {name: float(np.mean(values)) for name, values in logs.items()} | {f"{group}/grad_norm": norm.item()}
        )

    def diverged(self, step: int, what: str) -> Diverged:
        last = self.ckpt.latest()
        where = (
            f"the last good checkpoint is {self.ckpt.path(last)}"
            if last is not None
            else "no checkpoint was written yet"
        )
        return Diverged(
            f"training diverged at step {step}: {what}; nothing was stepped or saved after it; {where} (resume with a "
            "lower learning rate, e.g. --set PHASE.lr=..., or another grad_clip: the run's config-history.jsonl "
            "records the change)"
        )


class _Silent:
    """The log writer of processes other than 0."""

    def add_scalar(self, *args, **kwargs) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class _ParamOwner(torch.nn.Module):
    """A module that owns a list of parameters, so optimiser state is keyed by stable names."""

    def __init__(self, params: list):
        super().__init__()
        self.params = torch.nn.ParameterList(params)
