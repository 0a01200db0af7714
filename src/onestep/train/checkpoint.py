"""Atomic, resumable checkpoints in torch.distributed.checkpoint (DCP) layout.

State is a dict of named stateful objects (EDM2 style): modules, optimisers (wrapped so FSDP2 can
later shard them), and a small `progress` dict. A checkpoint is written to `step_XXXXXXXX.partial/`
and renamed to `step_XXXXXXXX/` only when complete, so a kill at any moment leaves the last good
checkpoint intact. Randomness is not stored: it is reseeded from (seed, rank, step).

`meta.json` lists the sha256 of every file the save wrote (each process hashes its share). A resume
(`restore`) checks the newest checkpoint against it and falls back to the one before when a file is
missing, truncated or altered, or when it does not load, and says so: a damaged checkpoint costs the
steps since the previous one, never the run.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.state_dict import (
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)

from onestep.errors import UserError
from onestep.parallel.launch import barrier, rank

STEP_DIR = re.compile(r"^step_(\d{8})$")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def _processes() -> tuple[int, int]:
    import torch.distributed as dist

    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def _gather(share: dict) -> dict:
    """Every process's dict merged, on every process."""
    import torch.distributed as dist

    if not dist.is_initialized():
        return share
    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, share)
    return {k: v for part in parts for k, v in part.items()}


def digests(folder: Path) -> dict[str, str]:
    """{file name: sha256} of every file in `folder`, each process hashing every N-th (a collective)."""
    index, count = _processes()
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != "meta.json")
    return _gather({name: sha256(folder / name) for name in names[index::count]})


def damage(folder: Path, expected: dict[str, str]) -> str | None:
    """What is wrong with the files of `folder` against `expected` (None: all there and intact; a collective)."""
    index, count = _processes()
    problems = {}
    for name in sorted(expected)[index::count]:
        path = folder / name
        if not path.is_file():
            problems[name] = f"{name} is missing"
        elif sha256(path) != expected[name]:
            problems[name] = f"{name} does not match its checksum"
    problems = _gather(problems)
    return "; ".join(problems[k] for k in sorted(problems)) or None


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
        return sorted(
            int(m.group(1))
            for p in self.directory.iterdir()
            if (m := STEP_DIR.match(p.name)) and (p / "meta.json").is_file()
        )

    def latest(self) -> int | None:
        steps = self.steps()
        return steps[-1] if steps else None

    def path(self, step: int) -> Path:
        return self.directory / f"step_{step:08d}"

    def meta(self, step: int) -> dict | None:
        """Checkpoint `step`'s meta.json, or None when it does not parse."""
        try:
            meta = json.loads((self.path(step) / "meta.json").read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        return meta if isinstance(meta, dict) else None

    def kept(self, step: int) -> bool:
        return bool((self.meta(step) or {}).get("kept"))

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
        files = digests(tmp)
        if first:
            (tmp / "meta.json").write_text(
                json.dumps({"step": step, **(meta or {}), "kept": kept, "files": files}, indent=2)
            )
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
            for old in [s for s in self.steps() if not self.kept(s)][: -self.keep]:
                shutil.rmtree(self.path(old), ignore_errors=True)
        barrier()
        return final

    def load(self, step: int, state: dict) -> dict:
        """Load checkpoint `step` into `state` in place; returns its meta.json. A damaged checkpoint
        (files missing or altered against meta.json's checksums) is a CheckpointDamaged; one whose
        files are intact and do not load was written by another model (a UserError)."""
        path = self.path(step)
        meta = self.meta(step)
        if meta is None:
            raise CheckpointDamaged("its meta.json does not parse")
        problem = damage(path, meta["files"]) if isinstance(meta.get("files"), dict) else None
        if problem:
            raise CheckpointDamaged(problem)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*torch.distributed is disabled.*")
                dcp.load(state, checkpoint_id=str(path))
        except (Exception, CheckpointException) as e:  # CheckpointException (per-process errors) is a BaseException
            why = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
            if "files" not in meta:  # written before checksums: damage and another model look alike
                raise CheckpointDamaged(f"it does not load ({why})") from e
            raise UserError(
                f"checkpoint {path} does not fit this run ({why}): it was written by another model or config; start a "
                "new --out directory"
            ) from e
        return meta

    def restore(self, state_for) -> int | None:
        """Load the newest checkpoint that is intact into `state_for(step)` (the state a checkpoint of
        `step` holds) and return its step; None when there is none. Each damaged one passed over is
        said on stderr; when every one is damaged, a UserError says what to do."""
        steps = self.steps()
        passed = []
        for step in reversed(steps):
            try:
                self.load(step, state_for(step))
            except CheckpointDamaged as e:
                passed.append(f"{self.path(step).name} ({e})")
                continue
            if passed and rank() == 0:
                print(
                    f"onestep: checkpoint {passed[-1] if len(passed) == 1 else ', '.join(passed)} is damaged: "
                    f"resuming from {self.path(step)}",
                    file=sys.stderr,
                )
            return step
        if steps:
            raise UserError(
                f"every checkpoint in {self.directory} is damaged ({'; '.join(passed)}): delete {self.directory} to "
                "start the run again, or pass a new --out"
            )
        return None


class CheckpointDamaged(Exception):
    """A checkpoint whose files are missing, altered or unreadable: resume passes over it."""
