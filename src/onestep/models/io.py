"""Model directories: `config.json` + `model.safetensors`, as the bundled teacher ships, or a Wan folder.

config.json holds {"kind": "video_dit", "model": DiTConfig fields, ...extra (e.g. sampling defaults)}.
Loading checks the kind and that every tensor fits, and names the fix when it does not. A Wan2.1
diffusers folder (a pipeline's, or a lone transformer's) is read by models/wan.py; `load_model` and
`read_config` answer for both kinds, so every command takes either folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from onestep.errors import UserError
from onestep.models import wan
from onestep.models.lora import LoraScore
from onestep.models.video_dit import DiTConfig, VideoDiT
from onestep.types import VideoModel

KIND = "video_dit"


def save_model(directory: str | Path, model: VideoModel, extra: dict | None = None) -> Path:
    """Write config.json and model.safetensors atomically (temporary names, then rename); a Wan model
    as a diffusers transformer folder (models/wan.py)."""
    weights = None
    if isinstance(model, LoraScore):  # a LoRA student: its adapter merged into the base weights
        if isinstance(model.base, wan.WanModel):
            return wan.save_wan(
                directory, model.base, extra, weights=model.merged_state_dict(), lora=model.adapter_state_dict()
            )
        model, weights = model.base, model.merged_state_dict()
    if isinstance(model, wan.WanModel):
        return wan.save_wan(directory, model, extra)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {"kind": KIND, "model": model.config_dict(), **(extra or {})}
    weights = {k: v.detach().contiguous().cpu() for k, v in (weights or model.state_dict()).items()}
    tmp_w, tmp_c = directory / "model.safetensors.partial", directory / "config.json.partial"
    save_file(weights, str(tmp_w))
    tmp_c.write_text(json.dumps(config, indent=2) + "\n")
    tmp_w.replace(directory / "model.safetensors")
    tmp_c.replace(directory / "config.json")
    return directory


def weights_hash(directory: str | Path) -> str:
    """sha256 of a model directory's weights file (its first 16 hex digits): which model made the pairs
    or an evaluation."""
    if wan.is_wan(directory):
        return wan.weights_hash(directory)
    h = hashlib.sha256()
    with open(Path(directory) / "model.safetensors", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def read_config(directory: str | Path) -> dict:
    directory = Path(directory)
    path = directory / "config.json"
    if directory.is_dir() and wan.is_wan(directory):
        return wan.read_config(directory)
    if directory.is_file():
        raise UserError(
            f"{directory} is a file: pass the model's directory (the folder holding config.json), e.g. assets/teacher"
        )
    if not directory.is_dir():
        raise UserError(
            f"model directory {directory} does not exist: pass a directory with config.json and model.safetensors "
            "(e.g. assets/teacher)"
        )
    if not path.is_file():
        raise UserError(f"{directory} has no config.json: it is not a onestep model directory (e.g. assets/teacher)")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(
            f"{path} is not valid JSON ({e.msg} at line {e.lineno}): restore it from the run that wrote it"
        ) from e
    if not isinstance(config, dict):
        raise UserError(
            f"{path} holds a JSON {type(config).__name__}, not an object: restore it from the run that wrote it"
        )
    if config.get("kind") != KIND:
        raise UserError(
            f"{directory} holds a model of kind {config.get('kind')!r}, not {KIND!r}: pass a onestep video_dit model "
            "directory"
        )
    return config


def load_model(
    directory: str | Path,
    map_location: str | torch.device = "cpu",
    *,
    strict: bool = True,
    dtype: torch.dtype | None = None,
    latent_size: tuple[int, int, int] | None = None,
    causal_block: int | None = None,
) -> tuple[VideoModel, dict]:
    """(model in eval mode, frozen, on `map_location`, config dict). Errors name a missing file or a
    mismatched checkpoint. The model is built on the meta device and its weights loaded in place, so
    nothing is initialised only to be overwritten.

    strict=False accepts weights that lack some of the model's tensors (they keep their init): a new
    run started from an older model's weights. A Wan folder needs `latent_size` (frames, height, width
    of the latent video the run uses; the built-in DiT's size is in its config). `causal_block` builds
    the model (built-in DiT or Wan) block-causal with these weights (a causal student from a
    bidirectional teacher).
    """
    directory = Path(directory)
    config = read_config(directory)
    if config["kind"] == wan.KIND:
        latent_size = latent_size or config.get("latent_size")
        if latent_size is None:
            raise UserError(
                f"{directory} is a Wan model: give the latent video size (the run's data or --frames/--size) to load it"
            )
        block = (
            config.get("causal_block", 0) if causal_block is None else causal_block
        )  # an export of a causal student says so
        return wan.load_wan(directory, latent_size, device=map_location, dtype=dtype, causal_block=block), config
    fields = config["model"] if causal_block is None else {**config["model"], "causal_block": causal_block}
    unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(DiTConfig)})
    missing = [
        k for k in ("dim", "depth", "heads", "patch") if k not in fields
    ]  # a default here would load the weights into another network
    if missing:
        raise UserError(f"{directory}/config.json lacks model fields {missing}: restore it from the run that wrote it")
    if unknown:
        raise UserError(
            f"{directory}/config.json has unknown model fields {unknown}: it was written by another version of onestep"
        )
    try:
        with torch.device("meta" if strict else map_location):
            model = VideoDiT(DiTConfig(**fields))
    except (TypeError, ValueError) as e:
        raise UserError(
            f"{directory}/config.json has a model field of the wrong type ({e}): restore it from the run that wrote it"
        ) from e
    weights_path = directory / "model.safetensors"
    if not weights_path.is_file():
        raise UserError(f"{directory} has no model.safetensors: copy the weights next to config.json")
    try:
        weights = load_file(str(weights_path), device=str(map_location))
    except Exception as e:  # safetensors raises its own error types for truncated or foreign files
        raise UserError(
            f"cannot read {weights_path} ({type(e).__name__}): the file is corrupt or not safetensors; re-download or "
            "re-export it"
        ) from e
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(weights)), sorted(set(weights) - set(own))
    wrong = [k for k in own.keys() & weights.keys() if own[k].shape != weights[k].shape]
    if not strict:
        missing = []
    if missing or unexpected or wrong:
        detail = (
            f"missing {missing[:3]}"
            if missing
            else f"unexpected {unexpected[:3]}"
            if unexpected
            else f"shape of {wrong[:3]}"
        )
        raise UserError(
            f"{weights_path} does not match its config.json ({detail}): the weights come from another model; save "
            "them again with that model's config"
        )
    if strict:
        model.load_state_dict(weights, strict=True, assign=True)
    else:
        model.load_state_dict(weights, strict=False)
    if dtype is not None:
        model.to(dtype)
    return model.eval().requires_grad_(False), config
