"""Model kinds: everything the commands, parallel/ and eval/ may ask of one kind of model, as one frozen
bundle of functions per kind (torchtitan's `TrainSpec`), registered in the literal dict `KINDS`.

A folder's kind is found by asking each kind in turn whether the folder is one of its own (`kind_of`);
a live model names its kind in `model.spec.kind` (`kind_of_model`). The concrete modules register
nothing: this file imports them (diffusers, slow to import, only inside the functions that need it).

    "video_dit"  the built-in DiT (models/video_dit.py, its folder models/dit_folder.py): trains and is
                 evaluated on the embedded world's pixels, with the text encoder its config names.
    "wan"        a Wan2.1 diffusers folder (models/wan.py, wan_causal.py, wan_pipeline.py): trains on a
                 latent cache that `onestep prepare` writes with the folder's own VAE and encoders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from torch import nn

from onestep.errors import UserError
from onestep.models import dit_folder, video_dit, wan, wan_pipeline
from onestep.models.shared import read_json
from onestep.parallel import sequence
from onestep.types import Cond


@dataclass(frozen=True)
class ModelKind:
    """One kind of model, as the commands use it.

    name:          the registry key, and the model's `spec.kind`.
    title:         what messages call it ("built-in DiT", "Wan").
    detect(folder) -> bool: the folder is one of this kind's (False for a missing one; a corrupt
                   config.json is a UserError).
    read_config(folder) -> dict: its settings ({"kind", "sampling", "max_text", ...}; a latent kind's
                   also "i2v" and, for an export, "latent_size").
    load(folder, device, dtype, latent_size, causal_block, strict) -> model: built on the meta device,
                   its weights loaded in place, eval mode, frozen (models/io.py `load_model`).
    meta(source, latent_size) -> model: the network on the meta device from its config alone (`onestep
                   plan`); `source` is a folder or a config of `published`.
    save(folder, model, extra, weights, lora) -> folder: `weights` in place of the model's own state (a
                   LoRA student merged), `lora` its adapter alone.
    weights_hash(folder) -> str: a fingerprint of the weights (pairs, caches, evaluations name it).
    data:          "world": trains on the embedded world and runs the built-in evaluation suite (pairs,
                   compare, bench, --stream too); "cache": trains on a latent cache (`onestep prepare`),
                   evaluated on the user's conditions.
    example_cond(model, cond) -> Cond: `cond` with zero image-to-video inputs at the model's shapes
                   (parallel/activations.py counts what a call keeps).
    sequence_parallel(model, group, k, index): its sequence-parallel plan (parallel/sequence.py); None:
                   it does not run sequence-parallel.
    codec:         a latent kind's VAE and encoders (class: codec(folder, i2v, device); its `latent_size`,
                   `pixel_size`, `default_size`, `max_text`, `in_folder`), for prepare, sample and eval;
                   None: the kind samples pixels (the world's).
    published:     configs of published models `meta` builds without their folder, by name.
    export(student, teacher, tmp, format, exported_from): writes a run's student into the new folder
                   `tmp` for another library (`onestep export`); None: its student folder is already
                   what users load.
    """

    name: str
    title: str
    detect: Callable[[Path], bool]
    read_config: Callable[[Path], dict]
    load: Callable[..., nn.Module]
    meta: Callable[..., nn.Module]
    save: Callable[..., Path]
    weights_hash: Callable[[Path], str]
    data: Literal["world", "cache"]
    example_cond: Callable[[nn.Module, Cond], Cond]
    sequence_parallel: Callable[..., None] | None = None
    codec: type | None = None
    published: dict[str, dict] = field(default_factory=dict)
    export: Callable[..., None] | None = None


_dit = dit_folder.DiTFolder("video_dit", video_dit.VideoDiT)

KINDS: dict[str, ModelKind] = {
    "video_dit": ModelKind(
        name="video_dit",
        title="built-in DiT",
        detect=_dit.detect,
        read_config=_dit.read_config,
        load=_dit.load,
        meta=_dit.meta,
        save=_dit.save,
        weights_hash=dit_folder.weights_hash,
        data="world",
        example_cond=video_dit.example_cond,
        sequence_parallel=sequence.split_dit,
    ),
    "wan": ModelKind(
        name="wan",
        title="Wan",
        detect=wan.is_wan,
        read_config=wan.read_config,
        load=wan.load,
        meta=wan.meta,
        save=wan.save_wan,
        weights_hash=wan.weights_hash,
        data="cache",
        example_cond=wan.example_cond,
        sequence_parallel=sequence.split_wan,
        codec=wan_pipeline.Encoders,
        published=wan.PUBLISHED,
        export=wan_pipeline.export,
    ),
}


def detected(folder: str | Path) -> ModelKind | None:
    """The kind whose folder this is, or None."""
    return next((kind for kind in KINDS.values() if kind.detect(Path(folder))), None)


def kind_of(folder: str | Path) -> ModelKind:
    """The kind of a model folder, or a one-line UserError naming what is wrong with it."""
    folder = Path(folder)
    if folder.is_file():
        raise UserError(
            f"{folder} is a file: pass the model's directory (the folder holding config.json), e.g. assets/teacher"
        )
    if not folder.is_dir():
        raise UserError(
            f"model directory {folder} does not exist: pass a directory with config.json and model.safetensors "
            "(e.g. assets/teacher)"
        )
    kind = detected(folder)
    if kind is not None:
        return kind
    path = folder / "config.json"
    if not path.is_file():
        raise UserError(f"{folder} has no config.json: it is not a onestep model directory (e.g. assets/teacher)")
    raise UserError(
        f"{folder} holds a model of kind {read_json(path).get('kind')!r}, not 'video_dit': pass a onestep video_dit "
        "model directory"
    )


def kind_of_model(model: nn.Module) -> ModelKind:
    """The kind of a live model (a LoRA role answers for its base)."""
    return KINDS[model.spec.kind]


def published(name: str) -> ModelKind:
    """The kind that publishes the model `name` (its config in `published`)."""
    return next(kind for kind in KINDS.values() if name in kind.published)
