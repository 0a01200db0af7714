"""A latent cache: real videos encoded once by a teacher's VAE and encoders, read by training.

Layout of CACHE/ (written by `onestep prepare`, commands/prepare.py):

    manifest.json              {"kind": "onestep_latent_cache", "version", "teacher": {"hash", "i2v"},
                                "settings": {"frames", "fps", "height", "width"}, "latent_size": [F, H, W],
                                "text_len", "negative": the negative prompt's text,
                                "shards": [{"file", "clips": [{"source", "prompt"}, ...]}, ...]}
    negative.safetensors       the negative prompt of CFG: text (1, L, D), text_mask (1, L)
    shard_00000.safetensors    per clip: latent (N, 16, F, H, W) (the VAE's normalised latents),
                               text (N, L, D), text_mask (N, L) (the text encoder's states), and for
                               image-to-video cond_latent (N, 16, F, H, W) (the first frame followed by
                               zero pixels, encoded) and image_tokens (N, Li, Di) (the image encoder's)
    skipped.txt                one line per video that could not be used: "NAME: reason"

Every file is written under a temporary name and renamed when complete, and the manifest lists a
shard only after the shard is on disk, so a killed `prepare` leaves a cache that reads and resumes.

`CacheData(start)` yields the batch of each step from step `start`: a function of (seed, step) only
(an epoch's order is a permutation drawn from (seed, epoch)), so a resumed run reads the batches an
uninterrupted one would. After `shard(chunks, n)` (the trainer's call) it reads and yields only this
process's chunks of each global batch. Training never loads the VAE or the encoders.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from onestep import seeding
from onestep.errors import UserError
from onestep.files import write_json
from onestep.types import Batch, Cond, ModelSpec

KIND = "onestep_latent_cache"
VERSION = 1
MANIFEST = "manifest.json"
NEGATIVE = "negative.safetensors"
SKIPPED = "skipped.txt"
FIELDS = ("latent", "text", "text_mask")
I2V_FIELDS = ("cond_latent", "image_tokens")
ORDER = 12  # the seeding stream of an epoch's order (the losses draw from 0, 1, ...; the ODE pairs from seeding.PAIRS)


# ---------------------------------------------------------------------------------------------
# Writing (atomic)


def atomic_save(tensors: dict[str, torch.Tensor], path: Path) -> None:
    tmp = path.with_name(path.name + ".partial")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


def new_manifest(
    teacher_hash: str, i2v: bool, settings: dict, latent_size: tuple[int, int, int], text_len: int
) -> dict:
    return {
        "kind": KIND,
        "version": VERSION,
        "teacher": {"hash": teacher_hash, "i2v": i2v},
        "settings": settings,
        "latent_size": list(latent_size),
        "text_len": text_len,
        "shards": [],
    }


def add_shard(cache: Path, manifest: dict, tensors: dict[str, torch.Tensor], clips: list[dict]) -> dict:
    """Write the next shard, then list it in the manifest (both atomically); returns the manifest."""
    name = f"shard_{len(manifest['shards']):05d}.safetensors"
    atomic_save(tensors, cache / name)
    manifest = {**manifest, "shards": [*manifest["shards"], {"file": name, "clips": clips}]}
    write_json(cache / MANIFEST, manifest)
    return manifest


# ---------------------------------------------------------------------------------------------
# Reading


def read_manifest(cache: str | Path) -> dict:
    cache = Path(cache)
    path = cache / MANIFEST
    if not path.is_file():
        raise UserError(
            f"{cache} has no {MANIFEST}: it is not a latent cache; make one with `onestep prepare --videos DIR "
            f"--teacher WAN_DIR --out {cache}`"
        )
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(
            f"{path} is not valid JSON ({type(e).__name__}): prepare the cache again (finished shards are kept only "
            "with their manifest)"
        ) from e
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND or manifest.get("version") != VERSION:
        raise UserError(f"{path} is not a version-{VERSION} onestep latent cache: prepare it again with this onestep")
    return manifest


def check_teacher(manifest: dict, cache: Path, teacher_hash: str, i2v: bool) -> None:
    """A cache belongs to the teacher whose encoders made it, and to its task (T2V or I2V)."""
    made = manifest["teacher"]
    if made["hash"] != teacher_hash:
        raise UserError(
            f"{cache} was prepared with another teacher (weights {made['hash']}, this teacher {teacher_hash}): "
            "prepare the videos again with this teacher"
        )
    if made["i2v"] != i2v:
        kind = lambda b: "image-to-video" if b else "text-to-video"  # noqa: E731
        raise UserError(
            f"{cache} holds {kind(made['i2v'])} data and the teacher is {kind(i2v)}: prepare the cache with this "
            "teacher"
        )


class CacheData:
    """batches(start) -> iterator of Batch from a latent cache, in a (seed, step)-determined order."""

    def __init__(self, cache: str | Path, *, seed: int, batch_size: int, spec: ModelSpec, device="cpu"):
        self.cache = Path(cache)
        self.manifest = read_manifest(self.cache)
        want, have = list(spec.video_shape[1:]), self.manifest["latent_size"]
        if want != have:
            raise UserError(
                f"{self.cache} holds latent videos of {have} and the model was built for {want}: prepare the cache at "
                "this size"
            )
        self.shards = [self._open(s["file"]) for s in self.manifest["shards"]]  # read row by row, never whole
        self.rows = [(i, r) for i, s in enumerate(self.manifest["shards"]) for r in range(len(s["clips"]))]
        if not self.rows:
            raise UserError(f"{self.cache} holds no clips yet: run `onestep prepare` on a folder of videos first")
        self.i2v = self.manifest["teacher"]["i2v"]
        self.names = FIELDS + (I2V_FIELDS if self.i2v else ())
        neg = load_file(str(self.cache / NEGATIVE))
        self.negative = (neg["text"], neg["text_mask"].bool())
        self.seed, self.batch_size, self.device = seed, batch_size, torch.device(device)
        self._orders: dict[int, torch.Tensor] = {}
        self.part: tuple[list[int], int] | None = None

    def _open(self, name: str):
        try:
            return safe_open(str(self.cache / name), framework="pt")
        except Exception as e:  # missing (FileNotFoundError) or damaged (SafetensorError)
            raise UserError(
                f"{self.cache / name}, a shard the manifest lists, is missing or damaged ({type(e).__name__}): "
                "restore it, or prepare the cache again into a new --out"
            ) from e

    def __len__(self) -> int:
        return len(self.rows)

    def clip(self, index: int) -> dict[str, torch.Tensor]:
        shard, row = self.rows[index]
        return {k: self.shards[shard].get_slice(k)[row : row + 1] for k in self.names}

    def indices(self, step: int) -> torch.Tensor:
        """The clips of a step: positions step B .. step B + B - 1 of the epochs' permutations."""
        n, out = len(self), []
        for k in range(step * self.batch_size, (step + 1) * self.batch_size):
            epoch, i = divmod(k, n)
            out.append(self.order(epoch)[i])
        return torch.stack(out)

    def order(self, epoch: int) -> torch.Tensor:
        if epoch not in self._orders:
            self._orders = {epoch: torch.randperm(len(self), generator=seeding.seed(self.seed, epoch, stream=ORDER))}
        return self._orders[epoch]

    def shard(self, chunks: list[int], n_chunks: int) -> bool:
        """Read only these chunks of each global batch (this process's share), in this order."""
        self.part = (chunks, n_chunks)
        return True

    def batch(self, step: int) -> Batch:
        idx = self.indices(step).tolist()
        if self.part is not None:  # this process's chunks only: the other rows are never read
            chunks, n = self.part
            b = len(idx) // n
            idx = [i for c in chunks for i in idx[c * b : (c + 1) * b]]
        clips = [self.clip(i) for i in idx]
        t = {k: torch.cat([c[k] for c in clips]).to(self.device) for k in self.names}
        cond = Cond(t["text"].float(), t["text_mask"].bool())
        if self.i2v:
            cond.latent, cond.latent_mask, cond.image_tokens = (
                t["cond_latent"].float(),
                torch.ones(len(idx), device=self.device),
                t["image_tokens"].float(),
            )
        neg_text, neg_mask = self.negative
        return Batch(
            t["latent"].float(), cond.with_negative(neg_text.float().to(self.device), neg_mask.to(self.device))
        )

    def __call__(self, start: int) -> Iterator[Batch]:
        step = start
        while True:
            yield self.batch(step)
            step += 1
