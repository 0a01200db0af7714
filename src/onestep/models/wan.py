"""The `wan` adapter: diffusers' `WanTransformer3DModel` (Wan2.1 T2V and I2V) behind the VideoModel border.

Only this file knows how Wan reads its inputs (STYLE.md 2; ../shared/METHODS.md section 7):
- time: diffusers' Wan takes `timestep = 1000 t` with t in [0, 1] our flow time (x_t = (1 - t) x0 +
  t noise) and predicts v = noise - x0, our convention, so the call is v = transformer(x_t, 1000 t).
  Per-frame times (B, F) become Wan2.2's per-token timesteps (B, N), one per latent frame's tokens.
- text: the UMT5 token states as the Wan pipelines hand them over, the padding positions zeroed and
  the sequence padded with zeros to `text_len` = 512 tokens (Wan's attention processor splits image
  tokens from text by that length, and the padding tokens pass through its text projection, so the
  length changes the output).
- image-to-video (in_channels 36): the input is [x_t (16) | mask (4) | condition latent (16)]; the
  condition latent `cond.latent` (B, 16, F, H, W) is the VAE encoding of the first frame followed by
  zero pixels, the mask is 1 on the 4 channels of latent frame 0 (the 4 pixel frames it covers);
  `cond.latent_mask` 0 zeroes both for a sample. The CLIP tokens `cond.image_tokens` (B, 257, 1280)
  go through Wan's image projection into the added key/value cross-attention; the unconditional branch
  of CFG keeps the image (`Cond.uncond`).
- features: the blocks' outputs read with forward hooks on diffusers' own forward, which stops after
  the last tapped block (a truncated forward without a copy of diffusers' code).
- block-causal (`causal_block` > 0 latent frames per block, a causal student): forward(x_t, t, cond,
  frame_offset, cache) takes a segment of whole blocks at a latent frame offset with a KV cache, as the
  built-in DiT does (models/wan_causal.py); its I2V condition channels are the whole video's at those
  frames (the mask is on latent frame 0 only). causal_block 0 is diffusers' bidirectional forward.

The latent video size is not a property of Wan's weights; the adapter is built for one (frames,
height, width) of latents, the size the run's data has (`ModelSpec` fixes it for the heads).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import Tensor, nn

from onestep.errors import UserError
from onestep.files import replace_dir
from onestep.models import shared, wan_causal
from onestep.types import Cond, ModelSpec

KIND = "wan"
LORA_FILE = "pytorch_lora_weights.safetensors"  # diffusers' default LoRA file name
TEXT_LEN = 512  # diffusers' WanAttnProcessor: "512 is the context length of the text encoder"
MASK_CHANNELS = 4  # the VAE's temporal compression: latent frame 0 covers pixel frames 0-3
LATENT_CHANNELS = 16

# Every linear map inside the transformer blocks: self- and cross-attention (with I2V's added image
# key/value), and the MLP. What a LoRA adapts (peft's regex target).
LORA_TARGETS = (
    r".*blocks\.\d+\.(attn1\.(to_q|to_k|to_v|to_out\.0)"
    r"|attn2\.(to_q|to_k|to_v|to_out\.0|add_k_proj|add_v_proj)|ffn\.net\.(0\.proj|2))"
)


# ---------------------------------------------------------------------------------------------
# Pixel videos and their latents (Wan2.1's VAE: 4x in time after the first frame, 8x in space)


def latent_size(frames: int, height: int, width: int) -> tuple[int, int, int]:
    """The latent video (frames, height, width) of `frames` pixel frames of height x width; refuses a
    size the VAE and the (1, 2, 2) patches cannot take."""
    if frames < 1 or (frames - 1) % 4:
        lo = max(1, (frames - 1) // 4 * 4 + 1)
        raise UserError(
            f"--frames {frames} is not 4k + 1 (Wan's VAE packs 4 frames per latent frame after the first): use "
            f"--frames {lo} or {lo + 4}"
        )
    if height < 16 or width < 16:
        raise UserError(
            f"--size {height}x{width} is smaller than Wan's 16x16 pixels: pass HEIGHTxWIDTH, each a multiple of 16 "
            "(e.g. 480x832)"
        )
    if height % 16 or width % 16:
        raise UserError(
            f"--size {height}x{width} is not divisible by 16 (8x VAE, 2x2 patches): use --size "
            f"{max(16, height // 16 * 16)}x{max(16, width // 16 * 16)}"
        )
    return ((frames - 1) // 4 + 1, height // 8, width // 8)


class _Stop(Exception):
    """Raised by the feature hook after the last tapped block: the rest of the forward never runs."""


class WanModel(nn.Module):
    """VideoModel over a `WanTransformer3DModel`: forward(x_t (B, 16, F, H, W), t, cond) -> v;
    `causal_block` > 0: block-causal, forward(x_t, t, cond, frame_offset, cache) on a segment."""

    lora_targets = LORA_TARGETS

    def __init__(
        self, transformer: nn.Module, latent_size: tuple[int, int, int], text_len: int = TEXT_LEN, causal_block: int = 0
    ):
        super().__init__()
        self.transformer = transformer
        self.latent_size = tuple(latent_size)
        self.text_len = text_len
        self.causal_block = causal_block
        c = transformer.config
        pf, ph, pw = c.patch_size
        F_, H, W = self.latent_size
        if F_ % pf or H % ph or W % pw:
            raise UserError(
                f"latent video {F_}x{H}x{W} does not split into Wan's {pf}x{ph}x{pw} patches: use a height and width "
                f"divisible by {8 * ph} pixels"
            )
        if c.in_channels not in (LATENT_CHANNELS, 2 * LATENT_CHANNELS + MASK_CHANNELS):
            raise UserError(
                f"a Wan transformer with {c.in_channels} input channels is neither T2V (16) nor I2V (36): pass a "
                "Wan2.1 model folder"
            )
        if causal_block < 0 or (causal_block and (F_ // pf) % causal_block):
            raise UserError(
                f"causal_block {causal_block} must divide the {F_ // pf} latent frames: use a divisor of them (0: "
                "bidirectional)"
            )
        self.causal = wan_causal.CausalWan(transformer, causal_block, (H // ph) * (W // pw)) if causal_block else None

    # -- the model border (types.VideoModel) ---------------------------------------------------

    @property
    def i2v(self) -> bool:
        return self.transformer.config.in_channels != LATENT_CHANNELS

    @property
    def blocks(self) -> nn.ModuleList:
        return self.transformer.blocks

    @property
    def spec(self) -> ModelSpec:
        c = self.transformer.config
        F_, H, W = self.latent_size
        dim = c.num_attention_heads * c.attention_head_dim
        return ModelSpec(
            "wan",
            c.out_channels,
            F_,
            H,
            W,
            tuple(c.patch_size),
            dim,
            c.num_layers,
            c.text_dim,
            LATENT_CHANNELS if self.i2v else 0,
        )

    def condition_image(self, cond: Cond) -> Tensor | None:
        """The first latent frame of the condition video (B, 16, H, W), or None for T2V."""
        return None if cond.latent is None or not self.i2v else cond.latent[:, :, 0]

    def forward(self, x_t: Tensor, t: Tensor, cond: Cond, frame_offset: int = 0, cache=None) -> Tensor:
        """v for x_t; a causal model's segment at `frame_offset` reads (and, if `cache.writing`, adds
        to) the keys and values of the frames before it in `cache` (models/kv_cache.py)."""
        if self.causal_block:
            return wan_causal.forward(self, x_t, t, cond, frame_offset, cache)
        if cache is not None or frame_offset:
            raise UserError("a KV cache needs a block-causal model (causal_block > 0): this one is bidirectional")
        args = self.inputs(x_t, t, cond)
        return self.transformer(**args, return_dict=False)[0].to(x_t.dtype)

    def features(self, x_t: Tensor, t: Tensor, cond: Cond, layers: tuple[int, ...]) -> list[Tensor]:
        """The tokens (B, N, D) after each block in `layers`; the blocks after the last are never run."""
        n = len(self.blocks)
        if not layers or min(layers) < 0 or max(layers) >= n:
            raise UserError(
                f"feature layers {tuple(layers)} are not blocks of this {n}-block Wan model: use indices 0 to {n - 1}"
            )
        out: dict[int, Tensor] = {}

        def hook(i: int):
            def read(_module, _args, output):
                out[i] = output
                if i == max(layers):
                    raise _Stop

            return read

        handles = [self.blocks[i].register_forward_hook(hook(i)) for i in sorted(set(layers))]
        try:
            self.transformer(**self.inputs(x_t, t, cond), return_dict=False)
        except _Stop:
            pass
        finally:
            for h in handles:
                h.remove()
        return [out[i] for i in layers]

    # -- Wan's inputs ------------------------------------------------------------------------------

    def check_input(self, x_t: Tensor, t: Tensor, cond: Cond) -> None:
        # a causal model also takes any whole number of its blocks
        block = self.causal_block * self.transformer.config.patch_size[0]
        shared.check_video(x_t, self.spec.video_shape, block, "latent video", "this Wan model")
        shared.check_batch(x_t, t, cond)
        if cond.text.shape[-1] != self.transformer.config.text_dim:
            raise UserError(
                f"text states of width {cond.text.shape[-1]} do not fit this Wan model (text_dim "
                f"{self.transformer.config.text_dim}): encode the prompts with this model's own text encoder"
            )
        if cond.text.shape[1] > self.text_len:
            raise UserError(
                f"{cond.text.shape[1]} text tokens are more than Wan's {self.text_len}: encode the prompts with "
                f"max_sequence_length {self.text_len}"
            )
        if self.i2v and cond.image_tokens is None:
            raise UserError(
                "an image-to-video Wan model needs the first frame's CLIP tokens (Cond.image_tokens): prepare the "
                "data with this model's image encoder"
            )

    def text(self, cond: Cond, dtype) -> Tensor:
        """(B, text_len, text_dim): the token states with padding zeroed, padded with zeros as Wan's pipelines do."""
        text = cond.text.to(dtype) * cond.text_mask[..., None].to(dtype)
        pad = self.text_len - text.shape[1]
        return torch.cat([text, text.new_zeros(text.shape[0], pad, text.shape[2])], 1) if pad else text

    def condition_channels(self, x_t: Tensor, cond: Cond, frame_offset: int = 0) -> Tensor:
        """[mask (4) | condition latent (16)] (B, 20, F, H, W), zero where a sample has no condition;
        for a causal segment at `frame_offset`, the whole video's at its frames."""
        B, _, F_, H, W = x_t.shape
        mask = x_t.new_zeros(B, MASK_CHANNELS, F_, H, W)
        if cond.latent is None:
            return torch.cat([mask, x_t.new_zeros(B, LATENT_CHANNELS, F_, H, W)], 1)
        keep = cond.latent_mask.to(x_t.dtype).view(B, 1, 1, 1, 1)
        if not frame_offset:
            mask[:, :, :1] = 1.0
        latent = cond.latent.to(x_t.dtype)
        if self.causal_block:
            latent = wan_causal.condition_frames(latent, frame_offset * self.transformer.config.patch_size[0], F_)
        if latent.shape[1:] != (LATENT_CHANNELS, F_, H, W):
            raise UserError(
                f"condition latent of shape {tuple(latent.shape)} does not fit: expected (B, {LATENT_CHANNELS}, {F_}, "
                f"{H}, {W}), the VAE encoding of the first frame followed by zero frames"
            )
        return torch.cat([mask * keep, latent * keep], 1)

    def timestep(self, t: Tensor) -> Tensor:
        """1000 t: (B,) or, for per-frame times (B, F), one per token (B, N) (Wan2.2's per-token form)."""
        if t.ndim == 2:
            _, h, w = self.spec.grid
            t = t[:, :: self.transformer.config.patch_size[0]].repeat_interleave(h * w, dim=1)
        return 1000.0 * t.float()

    def inputs(self, x_t: Tensor, t: Tensor, cond: Cond, frame_offset: int = 0) -> dict:
        self.check_input(x_t, t, cond)
        dtype = self.transformer.patch_embedding.weight.dtype
        hidden = torch.cat([x_t, self.condition_channels(x_t, cond, frame_offset)], 1) if self.i2v else x_t
        image = cond.image_tokens.to(dtype) if self.i2v else None
        return dict(
            hidden_states=hidden.to(dtype),
            timestep=self.timestep(t),
            encoder_hidden_states=self.text(cond, dtype),
            encoder_hidden_states_image=image,
        )


# ---------------------------------------------------------------------------------------------
# Wan folders: a diffusers pipeline folder (model_index.json + transformer/) or a transformer folder


def transformer_dir(directory: str | Path) -> Path:
    """The folder holding the transformer's config.json and weights, or a UserError naming what is missing."""
    directory = Path(directory)
    if (directory / "model_index.json").is_file():
        sub = directory / "transformer"
        if not (sub / "config.json").is_file():
            raise UserError(
                f"{directory} has model_index.json but no transformer/config.json: it is not a complete Wan diffusers "
                "folder"
            )
        return sub
    return directory


def is_wan(directory: str | Path) -> bool:
    """Whether this folder is a Wan diffusers pipeline or a WanTransformer3DModel folder."""
    directory = Path(directory)
    index, config = directory / "model_index.json", directory / "config.json"
    path = index if index.is_file() else config
    if not path.is_file():
        return False
    data = shared.read_json(path)
    name = str(data.get("_class_name", ""))
    return name.startswith("Wan") if path == index else name == "WanTransformer3DModel"


def load_wan(
    directory: str | Path,
    latent_size: tuple[int, int, int],
    *,
    device="cpu",
    dtype: torch.dtype | None = None,
    causal_block: int = 0,
) -> WanModel:
    """A Wan folder's transformer as a WanModel (eval mode, frozen) for latent videos of `latent_size`,
    block-causal with `causal_block` latent frames per block (0: bidirectional)."""
    from diffusers import WanTransformer3DModel

    folder = transformer_dir(directory)
    weights = list(folder.glob("*.safetensors"))
    if not weights:
        raise UserError(
            f"{folder} has config.json but no .safetensors weights: copy the Wan transformer's weights next to it"
        )
    try:
        transformer, info = WanTransformer3DModel.from_pretrained(
            folder, torch_dtype=dtype or torch.float32, output_loading_info=True
        )
    except (OSError, ValueError) as e:
        raise UserError(
            f"cannot load the Wan transformer from {folder} ({type(e).__name__}: {str(e).splitlines()[0]}): the "
            "folder is incomplete or from another model"
        ) from e
    if info["missing_keys"]:  # diffusers would start them at random and only warn
        raise UserError(
            f"{folder}'s weights lack {len(info['missing_keys'])} tensors of its config.json (e.g. "
            f"{sorted(info['missing_keys'])[0]}): the weights come from another model; export them again"
        )
    return WanModel(transformer.to(device), latent_size, causal_block=causal_block).eval().requires_grad_(False)


def load(
    directory: str | Path,
    device="cpu",
    dtype: torch.dtype | None = None,
    latent_size: tuple[int, int, int] | None = None,
    causal_block: int | None = None,
    strict: bool = True,
) -> WanModel:
    """`load_wan` at the run's latent size and causal block, else the ones an export names (onestep.json).
    `strict` changes nothing: a tensor the weights lack is always refused (load_wan)."""
    config = read_config(directory)
    latent_size = latent_size or config.get("latent_size")
    if latent_size is None:
        raise UserError(
            f"{directory} is a Wan model: give the latent video size (the run's data or --frames/--size) to load it"
        )
    block = config.get("causal_block", 0) if causal_block is None else causal_block  # an export of a causal student
    return load_wan(directory, latent_size, device=device, dtype=dtype, causal_block=block)


# Wan2.1's published transformers (their folders' transformer/config.json), for `onestep plan` without the weights
_PUBLISHED_COMMON = dict(
    patch_size=(1, 2, 2),
    out_channels=16,
    text_dim=4096,
    freq_dim=256,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
)
PUBLISHED = {
    "Wan2.1-I2V-14B": dict(
        _PUBLISHED_COMMON,
        num_attention_heads=40,
        attention_head_dim=128,
        in_channels=36,
        ffn_dim=13824,
        num_layers=40,
        image_dim=1280,
        added_kv_proj_dim=5120,
    ),
    "Wan2.1-T2V-1.3B": dict(
        _PUBLISHED_COMMON, num_attention_heads=12, attention_head_dim=128, in_channels=16, ffn_dim=8960, num_layers=30
    ),
}


def meta(source: str | Path | dict, latent_size: tuple[int, int, int]) -> WanModel:
    """The transformer of a Wan folder, or of a config of PUBLISHED, on the meta device: nothing is
    read but its config.json (`onestep plan`)."""
    from diffusers import WanTransformer3DModel

    with torch.device("meta"):
        if isinstance(source, dict):
            return WanModel(WanTransformer3DModel(**source), latent_size)
        config = WanTransformer3DModel.load_config(transformer_dir(source))
        return WanModel(WanTransformer3DModel.from_config(config), latent_size)


def example_cond(model: WanModel, cond: Cond) -> Cond:
    """`cond` with zero image-to-video inputs beside its text (the condition latent of the video's shape
    and 257 CLIP tokens of the image encoder's width); `cond` itself for text-to-video
    (parallel/activations.py counts what a call keeps)."""
    if not model.i2v:
        return cond
    B = cond.batch_size
    latent = cond.text.new_zeros(B, *model.spec.video_shape)
    tokens = cond.text.new_zeros(B, 257, model.transformer.config.image_dim)
    return Cond(cond.text, cond.text_mask, latent, image_tokens=tokens)


def read_config(directory: str | Path) -> dict:
    """onestep's view of a Wan folder: {"kind": "wan", "i2v", "sampling": the teacher's defaults, "max_text"}.

    Sampling follows Wan2.1's pipelines: 50 steps, guidance 5.0, the scheduler's flow shift (3.0 at
    480p when the folder names none). A folder exported by onestep carries its own in onestep.json.
    """
    directory = Path(directory)
    transformer = json.loads((transformer_dir(directory) / "config.json").read_text())
    ours = directory / "onestep.json"
    if ours.is_file():
        return {"kind": KIND, "i2v": transformer.get("in_channels") != LATENT_CHANNELS, **json.loads(ours.read_text())}
    scheduler = directory / "scheduler" / "scheduler_config.json"
    sched = json.loads(scheduler.read_text()) if scheduler.is_file() else {}
    shift = sched.get("flow_shift") or sched.get("shift") or 3.0
    sampling = {"kind": "euler", "steps": 50, "guidance": 5.0, "shift": float(shift)}
    return {
        "kind": KIND,
        "i2v": transformer.get("in_channels") != LATENT_CHANNELS,
        "sampling": sampling,
        "max_text": TEXT_LEN,
    }


def weights_hash(directory: str | Path, sample: int = 1 << 20) -> str:
    """A fingerprint of the transformer's weights (16 hex digits) without reading 28 GB: each
    .safetensors file's size, header (names, shapes, dtypes, offsets) and three 1 MiB samples of its
    data (start, middle, end). Another checkpoint or a fine-tune differs in the samples."""
    h = hashlib.sha256()
    for path in sorted(transformer_dir(directory).glob("*.safetensors")):
        size = path.stat().st_size
        h.update(f"{path.name}:{size}".encode())
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            h.update(f.read(n))
            for start in (8 + n, max(8 + n, size // 2), max(8 + n, size - sample)):
                f.seek(start)
                h.update(f.read(sample))
    return h.hexdigest()[:16]


def save_wan(
    directory: str | Path,
    model: WanModel,
    extra: dict | None = None,
    *,
    weights: dict | None = None,
    lora: dict | None = None,
) -> Path:
    """Write the transformer as a diffusers folder (config.json + safetensors) and onestep's own
    settings (onestep.json: latent size, sampling, provenance), replacing `directory` only when all is
    written: a kill leaves the previous export.

    weights: the transformer's state to write instead of its own (a LoRA student merged into its base);
    lora: the adapter's state ("transformer.<module>.lora_A.weight", ...), also written in diffusers'
    LoRA layout (pytorch_lora_weights.safetensors, what `pipe.load_lora_weights` reads).
    """
    import shutil

    from diffusers import WanPipeline
    from safetensors.torch import save_file

    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    if weights is None:
        model.transformer.save_pretrained(tmp, safe_serialization=True)
    else:
        model.transformer.save_config(tmp)
        state = {
            k.removeprefix("transformer."): v.contiguous() for k, v in weights.items()
        }  # names in the adapter -> in the transformer
        save_file(state, str(tmp / "diffusion_pytorch_model.safetensors"), metadata={"format": "pt"})
    if lora is not None:
        layers = {k.removeprefix("transformer."): v.contiguous() for k, v in lora.items()}
        WanPipeline.save_lora_weights(tmp, transformer_lora_layers=layers, weight_name=LORA_FILE)
    causal = (
        {"causal_block": model.causal_block} if model.causal_block else {}
    )  # a causal student loads causal again (models/io.py)
    (tmp / "onestep.json").write_text(
        json.dumps({"latent_size": list(model.latent_size), **causal, **(extra or {})}, indent=2) + "\n"
    )
    return replace_dir(tmp, directory)
