"""The built-in DiT's model directory: `config.json` + `model.safetensors`, as the bundled teacher ships.

config.json holds {"kind": "video_dit", "model": DiTConfig fields, ...extra (e.g. sampling defaults)}.
Loading checks that every tensor fits, and names the fix when it does not. `DiTFolder(kind, network)`
reads and writes the folders of one kind: the built-in DiT's ("video_dit", VideoDiT), or another kind
built on the same network (its own config.json `kind`, its own subclass).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from onestep.errors import UserError
from onestep.models.shared import file_hash, read_json
from onestep.models.video_dit import DiTConfig, VideoDiT


def weights_hash(directory: str | Path) -> str:
    """sha256 of a directory's model.safetensors (its first 16 hex digits): which model made the pairs
    or an evaluation."""
    return file_hash(Path(directory) / "model.safetensors")


@dataclass(frozen=True)
class DiTFolder:
    """The folders whose config.json says `kind`, holding a `network` (VideoDiT or a subclass)."""

    kind: str = "video_dit"
    network: type[VideoDiT] = VideoDiT

    def detect(self, directory: Path) -> bool:
        path = Path(directory) / "config.json"
        return path.is_file() and read_json(path).get("kind") == self.kind

    def read_config(self, directory: Path) -> dict:
        return read_json(Path(directory) / "config.json")

    def meta(self, directory: Path, latent_size=None) -> VideoDiT:
        """The network on the meta device from config.json alone (`onestep plan`); its size is its config's."""
        with torch.device("meta"):
            return self.network(DiTConfig(**self.read_config(directory)["model"]))

    def save(
        self, directory: Path, model: VideoDiT, extra: dict | None = None, weights: dict | None = None, lora=None
    ) -> Path:
        """Write config.json and model.safetensors atomically (temporary names, then rename). `weights`:
        the state to write instead of the model's own (a LoRA student merged into its base); `lora` (the
        adapter alone) is not kept: the merged weights are the model."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = {"kind": self.kind, "model": model.config_dict(), **(extra or {})}
        weights = {k: v.detach().contiguous().cpu() for k, v in (weights or model.state_dict()).items()}
        tmp_w, tmp_c = directory / "model.safetensors.partial", directory / "config.json.partial"
        save_file(weights, str(tmp_w))
        tmp_c.write_text(json.dumps(config, indent=2) + "\n")
        tmp_w.replace(directory / "model.safetensors")
        tmp_c.replace(directory / "config.json")
        return directory

    def load(
        self,
        directory: Path,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        latent_size=None,
        causal_block: int | None = None,
        strict: bool = True,
    ) -> VideoDiT:
        """The network built on the meta device and its weights loaded in place (strict=False: built on
        `device`, and tensors the weights lack keep their init); `causal_block` builds it block-causal
        with these weights. The latent size is the config's (`latent_size` is not read)."""
        directory = Path(directory)
        config = self.read_config(directory)
        fields = config["model"] if causal_block is None else {**config["model"], "causal_block": causal_block}
        unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(DiTConfig)})
        # a default here would load the weights into another network
        missing = [k for k in ("dim", "depth", "heads", "patch") if k not in fields]
        if missing:
            raise UserError(
                f"{directory}/config.json lacks model fields {missing}: restore it from the run that wrote it"
            )
        if unknown:
            raise UserError(
                f"{directory}/config.json has unknown model fields {unknown}: it was written by another version of "
                "onestep"
            )
        try:
            with torch.device("meta" if strict else device):
                model = self.network(DiTConfig(**fields))
        except (TypeError, ValueError) as e:
            raise UserError(
                f"{directory}/config.json has a model field of the wrong type ({e}): restore it from the run that "
                "wrote it"
            ) from e
        weights_path = directory / "model.safetensors"
        if not weights_path.is_file():
            raise UserError(f"{directory} has no model.safetensors: copy the weights next to config.json")
        try:
            weights = load_file(str(weights_path), device=str(device))
        except Exception as e:  # safetensors raises its own error types for truncated or foreign files
            raise UserError(
                f"cannot read {weights_path} ({type(e).__name__}): the file is corrupt or not safetensors; "
                "re-download or re-export it"
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
                f"{weights_path} does not match its config.json ({detail}): the weights come from another model; "
                "save them again with that model's config"
            )
        if strict:
            model.load_state_dict(weights, strict=True, assign=True)
        else:
            model.load_state_dict(weights, strict=False)
        if dtype is not None:
            model.to(dtype)
        return model.eval().requires_grad_(False)
