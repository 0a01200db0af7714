"""The teacher's ODE pairs as data: made once, kept on disk, read by any run (`onestep pairs`).

Pair i is (eps_i, c_i) -> x0_i = ODE_teacher(eps_i, c_i), integrated by the guided teacher in
`teacher_steps` Euler steps on its shifted grid (CausVid's ODE-pair initialisation). The folder holds
one safetensors file per chunk, each written atomically, and a manifest naming the teacher (a hash of
its weights) and every setting a chunk depends on: a killed run keeps its finished chunks and makes
only the missing ones, and pairs of another teacher or other settings are refused by name.

Chunk k is made from the data batches of steps PAIR_STEPS + k * chunk_batches and the noise of
`seeding.seed(seed, k, stream=seeding.PAIRS)`, so a missing chunk is remade exactly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from onestep import samplers, seeding
from onestep.errors import UserError
from onestep.types import Cond, Pairs

PAIR_STEPS = 1 << 40  # pair chunks read the batches of steps PAIR_STEPS + k, never a training step's
FOLDER = "ode_pairs"  # RUN/ode_pairs when a run makes its own


def manifest(pairs_cfg, data_cfg, seed: int, teacher_hash: str) -> dict:
    """What the chunks depend on: the ODE settings, the data stream that gave the conditions, the teacher."""
    return {
        "teacher": teacher_hash,
        "seed": seed,
        "batch_size": data_cfg.batch_size,
        "tracks": data_cfg.tracks,
        **({"p_t2v": data_cfg.p_t2v} if data_cfg.p_t2v else {}),  # absent when 0: pairs made before it still match
        **{k: getattr(pairs_cfg, k) for k in ("chunk_batches", "teacher_steps", "guidance", "shift")},
    }


def check_manifest(folder: Path, want: dict) -> None:
    path = folder / "manifest.json"
    if not path.is_file():
        return
    have = json.loads(path.read_text())
    differ = sorted(k for k in want.keys() | have.keys() if have.get(k) != want.get(k))
    if differ:
        what = ", ".join(f"{k} {have.get(k)!r} (this run: {want.get(k)!r})" for k in differ)
        raise UserError(
            f"the ODE pairs in {folder} were made with other settings: {what}; delete that folder, make new ones with "
            "`onestep pairs`, or use another --out"
        )


def make(teacher, batches, folder: str | Path, cfg, seed: int, made_with: dict, progress: bool = True) -> Path:
    """Make the missing chunks of `cfg.count` pairs in `folder` (cfg: configs.distill.PairsConfig).

    `batches(step)` iterates types.Batch from that step; `made_with` is the `manifest` to check and keep.
    """
    from rich.progress import Progress

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    check_manifest(folder, made_with)
    (folder / "manifest.json").write_text(json.dumps(made_with, indent=1) + "\n")
    made, k = 0, 0
    stream, at = None, None  # one batch stream across consecutive missing chunks (a worker start each is slow)
    with Progress(disable=not progress) as bar:
        task = bar.add_task("ODE pairs", total=cfg.count)
        while made < cfg.count:
            path = folder / f"chunk_{k:05d}.safetensors"
            start = PAIR_STEPS + k * cfg.chunk_batches
            if path.is_file() and not readable(path):
                path.unlink()  # damaged after it was written (chunks are written whole): made again
            if not path.is_file():
                if at != start:
                    stream = batches(start)
                make_chunk(teacher, path, stream, cfg, seed, k)
                at = start + cfg.chunk_batches
            with safe_open(str(path), "pt") as chunk:
                made += chunk.get_slice("noise").get_shape()[0]
            bar.update(task, completed=min(made, cfg.count))
            k += 1
    return folder


@torch.no_grad()
def make_chunk(teacher, path: Path, batches, cfg, seed: int, k: int) -> None:
    parts, g = [], None
    for _ in range(cfg.chunk_batches):
        batch = next(batches)
        x, cond = batch.video, batch.cond
        if g is None:  # one generator for the chunk, on the data's device
            g = seeding.seed(seed, k, stream=seeding.PAIRS, device=x.device)
        noise = torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)
        x0 = samplers.euler(teacher, noise, cond, steps=cfg.teacher_steps, shift=cfg.shift, guidance=cfg.guidance)
        parts.append(
            {"noise": noise, "x0": x0, "text": cond.text, "text_mask": cond.text_mask}
            | ({} if cond.latent is None else {"latent": cond.latent, "latent_mask": cond.latent_mask})
        )
    chunk = {name: torch.cat([p[name] for p in parts]).contiguous().cpu() for name in parts[0]}
    tmp = path.with_name(path.name + ".partial")
    save_file(chunk, str(tmp))
    os.replace(tmp, path)


def readable(path: Path) -> bool:
    """Whether a chunk's header and every tensor read (a truncated file fails here)."""
    try:
        load_file(str(path))
    except Exception:  # SafetensorError, OSError
        return False
    return True


def load(folder: str | Path, count: int, want: dict | None = None, device: torch.device | str = "cpu") -> Pairs:
    """The first `count` pairs of `folder` on `device`; `want` (a manifest) is checked first."""
    folder = Path(folder)
    chunks = sorted(folder.glob("chunk_*.safetensors"))
    if not chunks:
        raise UserError(f"{folder} holds no ODE pairs: make them with `onestep pairs --teacher DIR --out {folder}`")
    if want is not None:
        check_manifest(folder, want)
    parts = []
    for p in chunks:
        try:
            parts.append(load_file(str(p)))
        except Exception as e:  # SafetensorError: truncated or altered after it was written whole
            raise UserError(
                f"{p} is damaged ({type(e).__name__}): run `onestep pairs` on {folder} (or the run) again, which "
                "remakes it"
            ) from e
    d = {name: torch.cat([p[name] for p in parts])[:count].to(device) for name in parts[0]}
    if len(d["noise"]) < count:
        raise UserError(
            f"{folder} holds {len(d['noise'])} ODE pairs and this run regresses {count}: finish them with `onestep "
            "pairs` (it resumes) or lower data.pairs.count"
        )
    return Pairs(
        d["noise"], d["x0"], Cond(d["text"], d["text_mask"], d.get("latent"), d.get("latent_mask"))
    )  # chunks without a mask: every row I2V
