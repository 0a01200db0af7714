"""Model directories of any kind: each function finds the folder's (or the model's) kind in
models/kinds.py and asks it, so every command takes a built-in DiT folder (config.json +
model.safetensors, models/dit_folder.py) or a Wan diffusers folder (models/wan.py) alike.
"""

from __future__ import annotations

from pathlib import Path

import torch

from onestep.models import kinds
from onestep.models.lora import LoraScore
from onestep.models.shared import file_hash
from onestep.types import VideoModel


def save_model(directory: str | Path, model: VideoModel, extra: dict | None = None) -> Path:
    """Write the model as its kind writes its folders; a LoRA student as its adapter merged into the
    base weights (and, where the kind keeps it, the adapter on its own)."""
    weights = lora = None
    if isinstance(model, LoraScore):
        model, weights, lora = model.base, model.merged_state_dict(), model.adapter_state_dict()
    return kinds.kind_of_model(model).save(Path(directory), model, extra, weights=weights, lora=lora)


def weights_hash(directory: str | Path) -> str:
    """A fingerprint of a model directory's weights (16 hex digits): which model made the pairs, a cache
    or an evaluation; a folder of no model kind (the feature network), its model.safetensors' sha256."""
    directory = Path(directory)
    kind = kinds.detected(directory)
    return kind.weights_hash(directory) if kind is not None else file_hash(directory / "model.safetensors")


def read_config(directory: str | Path) -> dict:
    """The folder's settings ({"kind", "sampling", "max_text", ...}), or a one-line error naming the fix."""
    return kinds.kind_of(directory).read_config(Path(directory))


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
    the model block-causal with these weights (a causal student from a bidirectional teacher).
    """
    directory = Path(directory)
    kind = kinds.kind_of(directory)
    config = kind.read_config(directory)
    model = kind.load(
        directory, device=map_location, dtype=dtype, latent_size=latent_size, causal_block=causal_block, strict=strict
    )
    return model, config
