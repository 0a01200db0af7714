"""Atomic, resumable checkpoints in torch.distributed.checkpoint (DCP) layout.

State is a dict of named stateful objects (EDM2 style): modules, optimisers (wrapped so FSDP2 can
later shard them), and a small `progress` dict. A checkpoint is written to `step_XXXXXXXX.partial/`
and renamed to `step_XXXXXXXX/` only when complete, so a kill at any moment leaves the last good
checkpoint intact. Randomness is not stored: it is reseeded from (seed, rank, step).
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)

from onestep.errors import UserError
from onestep.parallel.launch import barrier, rank

STEP_DIR = re.compile(r"^step_(\d{8})$")


class OptimizerState:
    """Stateful wrapper: DCP-friendly optimiser state keyed by parameter names.

    torch's state_dict helpers initialise, save and load optimiser state only for parameters that
    require grad; the trainer keeps every role closed between its updates, so both directions open
    the optimiser's parameters for the duration and restore the flags after.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer):
        self.model, self.optimizer = model, optimizer

    @contextmanager
    def _open(self):
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        flags = [p.requires_grad for p in params]
        for p in params:
            p.requires_grad_(True)
        try:
            yield
        finally:
            for p, flag in zip(params, flags):
                p.requires_grad_(flag)

    def state_dict(self) -> dict:
        with self._open():
            return get_optimizer_state_dict(self.model, self.optimizer)

    def load_state_dict(self, state: dict) -> None:
        with self._open():
            set_optimizer_state_dict(self.model, self.optimizer, optim_state_dict=state)


class Checkpointer:
    def __init__(self, directory: str | Path, keep: int = 2):
        self.directory = Path(directory)
        self.keep = keep

    def steps(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.directory.iterdir() if (m := STEP_DIR.match(p.name)) and (p / "meta.json").is_file())

    def latest(self) -> int | None:
        steps = self.steps()
        return steps[-1] if steps else None

    def path(self, step: int) -> Path:
        return self.directory / f"step_{step:08d}"

    def kept(self, step: int) -> bool:
        return bool(json.loads((self.path(step) / "meta.json").read_text()).get("kept"))

    def save(self, step: int, state: dict, meta: dict | None = None, *, kept: bool = False) -> Path:
        """Write checkpoint `step` atomically, then delete all but the newest `keep` unkept ones.

        `kept` checkpoints (the trainer's phase ends) are never deleted: a later phase can be rerun
        from one with other settings in a new run directory.
        """
        final, tmp = self.path(step), self.directory / f"step_{step:08d}.partial"
        first = rank() == 0  # with several processes, process 0 alone touches the directories
        if first:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        barrier()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*torch.distributed is disabled.*")
            dcp.save(state, checkpoint_id=str(tmp))  # a collective: each process writes its shards
        barrier()
        if first:
            (tmp / "meta.json").write_text(json.dumps({"step": step, **(meta or {}), "kept": kept}, indent=2))
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
            for old in [s for s in self.steps() if not self.kept(s)][: -self.keep]:
                shutil.rmtree(self.path(old), ignore_errors=True)
        barrier()
        return final

    def load(self, step: int, state: dict) -> dict:
        """Load checkpoint `step` into `state` in place; returns its meta.json."""
        path = self.path(step)
        meta = json.loads((path / "meta.json").read_text())
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*torch.distributed is disabled.*")
                dcp.load(state, checkpoint_id=str(path))
        except Exception as e:  # DCP raises CheckpointException wrapping per-rank errors
            raise UserError(
                f"checkpoint {path} does not fit this run ({str(e).splitlines()[0][:160]}): "
                "it was written by another model or config; start a new --out directory"
            ) from e
        return meta
