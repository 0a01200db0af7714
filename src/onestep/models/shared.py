"""What every model kind does the same way: read a folder's files, check a call's inputs at the border,
and build the block-causal attention mask.

- `read_json`: a config.json or model_index.json as a dict, or a one-line error naming the file.
- `file_hash`: a weights file's sha256 (16 hex digits).
- `check_video`, `check_batch`: the video a model takes (its full length, or for a block-causal model
  any whole number of its blocks) and one batch size across video, times and condition.
- `block_mask`: a query frame block sees its own and earlier blocks, and every cached token before the
  segment (a causal student's KV cache); the built-in DiT and block-causal Wan both attend under it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import Tensor

from onestep.errors import UserError
from onestep.types import Cond


def read_json(path: Path) -> dict:
    """The JSON object in `path`; a file that is not one is a UserError naming it."""
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(
            f"{path} is not valid JSON ({type(e).__name__}): restore it from where the model came from"
        ) from e
    if not isinstance(data, dict):
        raise UserError(
            f"{path} holds a JSON {type(data).__name__}, not an object: restore it from where the model came from"
        )
    return data


def file_hash(path: Path) -> str:
    """The first 16 hex digits of the file's sha256."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def check_video(x_t: Tensor, want: tuple[int, int, int, int], block: int, what: str, model: str) -> None:
    """x_t is (B, *want), or with `block` > 0 video frames per causal block, a segment of whole blocks.
    `what` and `model` name the video and the model in the error ("video", "this model")."""
    shape = tuple(x_t.shape[1:]) if x_t.ndim == 5 else ()
    segment = (
        bool(block)
        and len(shape) == 4
        and shape[0] == want[0]
        and shape[2:] == want[2:]
        and shape[1] > 0
        and shape[1] % block == 0
    )
    if shape != want and not segment:
        more = f" or a whole number of its {block}-frame blocks" if block else ""
        raise UserError(
            f"{what} of shape {tuple(x_t.shape)} does not fit {model}: expected (B, {', '.join(map(str, want))}){more}"
        )


def check_batch(x_t: Tensor, t: Tensor, cond: Cond) -> None:
    if t.shape[0] != x_t.shape[0] or cond.batch_size != x_t.shape[0]:
        raise UserError(f"batch sizes differ: video {x_t.shape[0]}, t {t.shape[0]}, cond {cond.batch_size}")


def block_mask(frames: int, tokens_per_frame: int, causal_block: int, cached: int, device) -> Tensor:
    """(N, cached + N) boolean mask of a segment of `frames` latent frames (N = frames x tokens_per_frame):
    a query block of `causal_block` frames sees its own and earlier blocks, and all `cached` tokens."""
    block = (torch.arange(frames, device=device) // causal_block).repeat_interleave(tokens_per_frame)
    mask = block[None, :] <= block[:, None]
    return torch.cat([mask.new_ones(mask.shape[0], cached), mask], 1) if cached else mask
