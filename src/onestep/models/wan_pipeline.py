"""A Wan diffusers pipeline folder: its VAE, text encoder and (I2V) image encoder, called as its
pipeline calls them (`Encoders`, the `wan` kind's codec), and a distilled student exported into one
(`export`).

`onestep prepare` encodes videos with them into a latent cache; `onestep sample` encodes a prompt and
a first frame with them and decodes the sampled latents. Everything goes through the pipeline's own
code (../shared/METHODS.md 7), so what onestep computes is what the pipeline would:

- text: `pipe.encode_prompt(max_sequence_length=512)` (UMT5 states, padding zeroed, (N, 512, D)) and
  the mask of the real tokens from the pipeline's tokenizer call (the same `prompt_clean`);
- video: frames (3, F, H, W) in [-1, 1] VAE-encoded, the latent distribution's mode (its mean,
  `retrieve_latents(sample_mode="argmax")`, as the pipeline encodes images), normalised per channel as
  the pipeline does: (z - latents_mean) * (1 / latents_std); `decode` inverts it and runs the VAE's
  decoder and the pipeline's video post-processing;
- image-to-video: `pipe.encode_image(first frame)` (CLIP penultimate tokens) and the condition latent
  from `pipe.prepare_latents` (the first frame followed by zero pixels, encoded and normalised), less
  the 4 mask channels that the adapter (models/wan.py) rebuilds.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from onestep import seeding
from onestep.errors import UserError
from onestep.models import wan


class Encoders:
    """A Wan diffusers folder's VAE, text encoder and (I2V) image encoder, called as its pipeline calls them.

    Loaded in float32 (the pipelines' examples load the VAE and image encoder so; the text encoder too,
    so the states are exact), without the transformer. The class also says what the VAE's compression
    makes of a pixel video (`latent_size`, `pixel_size`) and where it is found (`in_folder`).
    """

    max_text = wan.TEXT_LEN  # tokens per prompt
    default_size = (81, 480, 832)  # (frames, height, width): the Wan2.1 pipelines' default video
    latent_size = staticmethod(wan.latent_size)

    @staticmethod
    def pixel_size(latent_size) -> tuple[int, int, int]:
        """The pixel video (frames, height, width) whose latents are (frames, height, width) `latent_size`."""
        f, h, w = latent_size
        return (f - 1) * 4 + 1, h * 8, w * 8

    @staticmethod
    def in_folder(folder: Path) -> bool:
        """Whether `folder` is a pipeline folder (model_index.json beside vae/, text_encoder/, ...), not a
        lone transformer."""
        return (Path(folder) / "model_index.json").is_file()

    def __init__(self, teacher: Path, i2v: bool, device: str | torch.device):
        from diffusers import WanImageToVideoPipeline, WanPipeline

        try:
            self.pipe = (WanImageToVideoPipeline if i2v else WanPipeline).from_pretrained(teacher, transformer=None)
        except (OSError, ValueError) as e:
            raise UserError(
                f"cannot load the VAE and encoders from {teacher} ({type(e).__name__}: {str(e).splitlines()[0]}): "
                "pass a complete Wan2.1 diffusers folder (vae/, text_encoder/, "
                f"tokenizer/{', image_encoder/, image_processor/' if i2v else ''})"
            ) from e
        for module in self.pipe.components.values():
            if isinstance(module, torch.nn.Module):
                module.to(device).float()  # whatever dtype the folder stores (UMT5 is often bf16)
        self.device, self.i2v = torch.device(device), i2v
        vae = self.pipe.vae
        self.mean = torch.tensor(vae.config.latents_mean).view(1, vae.config.z_dim, 1, 1, 1).to(self.device)
        self.inv_std = 1.0 / torch.tensor(vae.config.latents_std).view(1, vae.config.z_dim, 1, 1, 1).to(self.device)

    @torch.no_grad()
    def text(self, prompts: list[str]) -> dict[str, Tensor]:
        """text (N, 512, D) with padding zeroed (`encode_prompt`), text_mask (N, 512) True on the real tokens."""
        from diffusers.pipelines.wan.pipeline_wan import prompt_clean

        states, _ = self.pipe.encode_prompt(
            prompts, do_classifier_free_guidance=False, max_sequence_length=self.max_text, device=self.device
        )
        tokens = self.pipe.tokenizer(
            [prompt_clean(p) for p in prompts],
            padding="max_length",
            max_length=self.max_text,
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        return {"text": states.float().cpu(), "text_mask": tokens.attention_mask.bool()}

    @torch.no_grad()
    def latent(self, video: Tensor) -> Tensor:
        """(3, F, H, W) in [-1, 1] -> (1, 16, f, h, w): the mode of the VAE's latent distribution, normalised."""
        from diffusers.pipelines.wan.pipeline_wan_i2v import retrieve_latents

        z = retrieve_latents(
            self.pipe.vae.encode(video[None].to(self.device, self.pipe.vae.dtype)), sample_mode="argmax"
        )
        return ((z.float() - self.mean) * self.inv_std).cpu()

    @torch.no_grad()
    def condition(self, first: np.ndarray, frames: int) -> dict[str, Tensor]:
        """From the first frame (H, W, 3) uint8: cond_latent (1, 16, f, h, w) and image_tokens (1, Li, Di)."""
        from PIL import Image

        pipe, image = self.pipe, Image.fromarray(first)
        tokens = pipe.encode_image(image, self.device)
        height, width = first.shape[:2]
        pixels = pipe.video_processor.preprocess(image, height=height, width=width).to(self.device, torch.float32)
        g = seeding.seed(0, 0, device=self.device)  # prepare_latents also draws the (unused) noise
        _, cond = pipe.prepare_latents(
            pixels, 1, wan.LATENT_CHANNELS, height, width, frames, torch.float32, self.device, g
        )
        return {
            "cond_latent": cond[:, pipe.vae_scale_factor_temporal :].float().cpu(),
            "image_tokens": tokens.float().cpu(),
        }

    @torch.no_grad()
    def decode(self, latents: Tensor) -> np.ndarray:
        """(B, 16, f, h, w) normalised latents -> (B, F, H, W, 3) frames in [0, 1], as the pipeline decodes."""
        vae = self.pipe.vae
        z = latents.to(self.device, vae.dtype) / self.inv_std.to(vae.dtype) + self.mean.to(vae.dtype)
        return self.pipe.video_processor.postprocess_video(vae.decode(z, return_dict=False)[0], output_type="np")

    def clip(self, frames: np.ndarray, prompt: str) -> dict[str, Tensor]:
        """Everything a shard holds for one clip (F, H, W, 3) uint8, each with a leading 1."""
        out = {"latent": self.latent(frames_to_tensor(frames)), **self.text([prompt])}
        return out | (self.condition(frames[0], len(frames)) if self.i2v else {})


def frames_to_tensor(frames: np.ndarray) -> Tensor:
    """(F, H, W, 3) uint8 -> (3, F, H, W) in [-1, 1] (as the pipelines' VideoProcessor: x / 255 * 2 - 1)."""
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 255.0 * 2.0 - 1.0


# ---------------------------------------------------------------------------------------------
# A distilled student as a pipeline folder (`onestep export`)

SCHEDULER = {
    "_class_name": "FlowMatchEulerDiscreteScheduler",
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "use_dynamic_shifting": False,
}


def link_tree(src: Path, dst: Path) -> None:
    """Hard-link (or copy, across file systems) every file of src into dst."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)


def export(student: Path, teacher: Path, tmp: Path, format: str, exported_from: str) -> None:
    """Write the run's `student` folder (RUN/student) into the new folder `tmp` for diffusers, with its
    onestep settings and the run it came from (`exported_from`) in tmp/onestep.json.

    format "lora": the adapter of a LoRA student alone (pytorch_lora_weights.safetensors, what
    `pipe.load_lora_weights` reads on the teacher's pipeline). format "diffusers": the teacher's
    pipeline folder with the student's transformer in place of the teacher's and a
    `FlowMatchEulerDiscreteScheduler` at the student's shift: at one step the scheduler's update
    x - (1 - 0) v is the student's sample x0 = noise - G(noise, 1), so `WanPipeline.from_pretrained(tmp)
    (..., num_inference_steps=1, guidance_scale=1.0)` reproduces it. The other components (VAE, text
    encoder, tokenizer, image encoder) are the teacher's files, hard linked where the file system allows
    (no second copy of a 20 GB text encoder), else copied.
    """
    settings = {**json.loads((student / "onestep.json").read_text()), "exported_from": exported_from}
    if format == "lora":
        if not (student / wan.LORA_FILE).is_file():
            raise UserError(
                f"{student.parent} trained its student in full, so it has no LoRA: export --format diffusers, or "
                "distill with --set model.student_lora_rank=R"
            )
        tmp.mkdir(parents=True)
        shutil.copy2(student / wan.LORA_FILE, tmp / wan.LORA_FILE)
        (tmp / "onestep.json").write_text(json.dumps({**settings, "base": str(teacher)}, indent=2) + "\n")
        return
    if format != "diffusers":
        raise UserError(
            f"--format {format!r}: use diffusers (a pipeline folder) or lora (the adapter for pipe.load_lora_weights)"
        )
    index = json.loads((teacher / "model_index.json").read_text())
    for name, entry in index.items():
        if name.startswith("_") or name in ("transformer", "scheduler") or entry in (None, [None, None]):
            continue
        link_tree(teacher / name, tmp / name)
    (tmp / "transformer").mkdir(parents=True)
    for path in student.iterdir():
        if path.name not in ("onestep.json", wan.LORA_FILE):
            shutil.copy2(path, tmp / "transformer" / path.name)
    (tmp / "scheduler").mkdir()
    shift = settings.get("sampling", {}).get("shift", 1.0)
    (tmp / "scheduler" / "scheduler_config.json").write_text(json.dumps({**SCHEDULER, "shift": shift}, indent=2) + "\n")
    index["scheduler"] = ["diffusers", SCHEDULER["_class_name"]]
    (tmp / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
    (tmp / "onestep.json").write_text(json.dumps(settings, indent=2) + "\n")
    if not wan.is_wan(tmp):
        raise UserError(
            f"the export in {tmp} is not a Wan folder: the teacher's model_index.json names {index.get('_class_name')}"
        )
