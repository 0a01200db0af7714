"""A small video diffusion transformer in the spirit of Wan2.1, predicting velocity v = noise - x0.

One model serves text-to-video and image-to-video:
- input channels in Wan's I2V layout: [x_t | mask | condition video], where the condition video is
  the first frame followed by zeros and the mask is 1 on frame 0 (both zero when no image is given);
- the image is also embedded as tokens that the cross-attention reads beside the text tokens;
- 3D rotary positions (frame, row, column) with a frame offset, so a block-causal rollout can reuse them,
  in self-attention and in cross-attention, where the image tokens sit at their (row, column) of frame
  0 (text tokens unrotated): a token can find the first frame's content where it is, or moved; plus a
  learned embedding of the absolute frame index, and the first frame's patch tokens added (through a
  zero-initialised projection) to every frame's tokens, so a token sees the unmoved first frame where
  it is; the channel layout stays Wan's and no frame is pre-warped; with `absolute_positions`, a learned
  (row, column) embedding on every frame's tokens as well (relative positions alone tell a token
  where it is only through the edges of the grid);
- adaLN-zero modulation from the time embedding plus the pooled text embedding (as SD3 feeds its
  pooled text), so the prompt steers every block, not only through cross-attention; the pooled
  embedding enters twice: raw, and standardised per dimension by statistics of the training prompts
  (`text_mean`, `text_std`, buffers saved with the weights; identity until `set_text_stats`) through
  a zero-initialised MLP. Pooled MiniLM embeddings of "pans left" and "pans right" differ by a few
  per cent of their norm; standardised, the words that decide the motion become O(1) inputs;
- `causal_block > 0` makes self-attention block-causal: a query frame block sees itself and earlier
  blocks (the student of the causal ASD recipe; the teacher is bidirectional). A causal model also
  takes a segment of whole blocks at a frame offset with a `KVCache` holding the keys and values of
  the frames before it (models/kv_cache.py): the segment attends to them and to itself
  (block-causally), which equals the full sequence under the block-causal mask, and a segment may lie
  past the training length (streaming).

Shapes: x_t (B, C, F, H, W), t (B,) or per-frame (B, F), tokens (B, N, D) with N = F' H' W'.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from onestep.errors import UserError
from onestep.models import shared, text
from onestep.models.dit_blocks import Block, modulate
from onestep.models.embeddings import rope_tables, timestep_embedding
from onestep.models.kv_cache import KVCache
from onestep.types import Cond, ModelSpec


@dataclass
class DiTConfig:
    channels: int = 3  # video channels: 3 for pixels, 16 for Wan latents
    frames: int = 8
    height: int = 32
    width: int = 32
    patch: tuple[int, int, int] = (1, 4, 4)  # (frames, rows, columns) per token
    dim: int = 128
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 4.0
    text_dim: int = 384
    text_encoder: str = "minilm"  # the frozen encoder whose token states it reads (models/text.py)
    causal_block: int = 0  # frames per causal block; 0 = bidirectional
    rope_theta: float = 10000.0
    # a learned (row, column) embedding on every token (zero-init): rotary positions are relative, so
    # without it a token knows its place only from the grid's edges (docs/teacher.md)
    absolute_positions: bool = False

    def __post_init__(self):
        self.patch = tuple(self.patch)
        pf, ph, pw = self.patch
        if self.frames % pf or self.height % ph or self.width % pw:
            raise UserError(
                f"a {self.frames}x{self.height}x{self.width} video does not split into {pf}x{ph}x{pw} patches: "
                f"use frames divisible by {pf} and height/width divisible by {ph}/{pw}"
            )
        if self.heads < 1 or self.depth < 1 or self.dim < 1:
            raise UserError(f"dim {self.dim}, depth {self.depth}, heads {self.heads}: each must be 1 or more")
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise UserError(
                f"dim {self.dim} must split into {self.heads} heads of even size: pick dim = heads * even number"
            )
        if self.causal_block and (self.frames // pf) % self.causal_block:
            raise UserError(f"causal_block {self.causal_block} must divide the {self.frames // pf} latent frames")

    def check_text(self) -> None:
        """The text encoder is known and its states are text_dim wide (checked when a model is built,
        so that overrides may set the two in either order)."""
        text.check_name(self.text_encoder)
        if self.text_dim != text.DIMS[self.text_encoder]:
            raise UserError(
                f"text_dim {self.text_dim} does not fit the {self.text_encoder} text encoder's "
                f"{text.DIMS[self.text_encoder]}-d states: set model.text_dim={text.DIMS[self.text_encoder]}"
            )

    @property
    def grid(self) -> tuple[int, int, int]:
        pf, ph, pw = self.patch
        return self.frames // pf, self.height // ph, self.width // pw


# Every linear map inside the transformer blocks (attention, cross-attention, MLP): what a LoRA adapts.
LORA_TARGETS = r".*blocks\.\d+\.(attn\.qkv|attn\.out|cross\.q|cross\.kv|cross\.out|mlp\.0|mlp\.2)"


PRESETS: dict[str, dict] = {
    "tiny": dict(dim=64, depth=2, heads=2),  # tests: seconds on the CPU
    "small": dict(dim=128, depth=6, heads=4),  # the embedded teacher
    "base": dict(dim=256, depth=8, heads=8),
}


def preset(name: str, **overrides) -> DiTConfig:
    if name not in PRESETS:
        raise UserError(f"unknown model preset {name!r}: choose one of {', '.join(PRESETS)}")
    return DiTConfig(**{**PRESETS[name], **overrides})


# ---------------------------------------------------------------------------------------------
# The model (its transformer block: models/dit_blocks.py)


class VideoDiT(nn.Module):
    """Denoiser: forward(x_t, t, cond) -> v, all (B, C, F, H, W)."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        config.check_text()
        self.config = c = config
        pf, ph, pw = c.patch
        self.patch_embed = nn.Conv3d(2 * c.channels + 1, c.dim, kernel_size=c.patch, stride=c.patch)
        self.image_embed = nn.Sequential(
            nn.Conv2d(c.channels, c.dim, kernel_size=(ph, pw), stride=(ph, pw)), nn.Flatten(2)
        )
        self.image_proj = nn.Sequential(nn.LayerNorm(c.dim), nn.Linear(c.dim, c.dim))
        self.text_proj = nn.Sequential(
            nn.Linear(c.text_dim, c.dim), nn.GELU(approximate="tanh"), nn.Linear(c.dim, c.dim)
        )
        self.modality = nn.Parameter(torch.zeros(2, c.dim))  # added to text (0) and image (1) tokens
        self.frame_embed = nn.Linear(64, c.dim)  # absolute (latent) frame index, sinusoidal -> learned
        self.image_to_frames = nn.Linear(c.dim, c.dim)  # first frame's patch tokens added to every frame (zero-init)
        _, h, w = c.grid
        self.register_parameter(
            "position_embed", nn.Parameter(torch.zeros(1, h * w, c.dim)) if c.absolute_positions else None
        )
        self.time_mlp = nn.Sequential(nn.Linear(256, c.dim), nn.SiLU(), nn.Linear(c.dim, c.dim))
        self.pooled_mlp = nn.Sequential(nn.Linear(c.text_dim, c.dim), nn.SiLU(), nn.Linear(c.dim, c.dim))
        self.standardised_mlp = nn.Sequential(nn.Linear(c.text_dim, c.dim), nn.SiLU(), nn.Linear(c.dim, c.dim))
        self.register_buffer("text_mean", torch.zeros(c.text_dim))
        self.register_buffer("text_std", torch.ones(c.text_dim))
        self.blocks = nn.ModuleList([Block(c.dim, c.heads, c.mlp_ratio) for _ in range(c.depth)])
        self.norm_out = nn.LayerNorm(c.dim, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Linear(c.dim, 2 * c.dim)
        self.out = nn.Linear(c.dim, pf * ph * pw * c.channels)
        self._rope_cache: dict = {}
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """All init in one place: xavier linears (DiT), zero adaLN and output (adaLN-zero)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        for block in self.blocks:
            nn.init.zeros_(block.ada.weight)
            nn.init.zeros_(block.ada.bias)
        for m in (self.ada_out, self.out, self.image_to_frames, self.standardised_mlp[-1]):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)
        nn.init.normal_(self.modality, std=0.02)

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def pooled_text(cond: Cond) -> Tensor:
        """Masked mean of the text token states, (B, text_dim)."""
        m = cond.text_mask.to(cond.text.dtype)[..., None]
        return (cond.text * m).sum(1) / m.sum(1).clamp(min=1.0)

    @torch.no_grad()
    def set_text_stats(self, pooled: Tensor) -> None:
        """Standardise the pooled text by the mean and std of these (N, text_dim) training prompts."""
        self.text_mean.copy_(pooled.mean(0))
        self.text_std.copy_(pooled.std(0).clamp(min=1e-4))

    def check_input(self, x_t: Tensor, t: Tensor, cond: Cond) -> None:
        c = self.config
        want = (c.channels, c.frames, c.height, c.width)
        # a causal model also takes any whole number of its blocks
        shared.check_video(x_t, want, c.causal_block * c.patch[0], "video", "this model")
        if cond.latent is not None and tuple(cond.latent.shape[1:]) != (c.channels, c.height, c.width):
            raise UserError(
                f"first-frame image of shape {tuple(cond.latent.shape)} does not fit: expected (B, {c.channels}, "
                f"{c.height}, {c.width})"
            )
        shared.check_batch(x_t, t, cond)

    def condition_video(self, x_t: Tensor, cond: Cond, frame_offset: int = 0) -> Tensor:
        """[mask | condition video] channels (B, 1 + C, F, H, W) in Wan's I2V layout (zero for a
        segment that does not start at frame 0)."""
        B, C, Fr, H, W = x_t.shape
        extra = x_t.new_zeros(B, 1 + C, Fr, H, W)
        if cond.latent is not None and frame_offset == 0:
            keep = cond.latent_mask.to(x_t.dtype).view(B, 1, 1, 1)
            extra[:, 0, 0] = keep[:, 0]
            extra[:, 1:, 0] = cond.latent.to(x_t.dtype) * keep
        return extra

    def context(self, cond: Cond, dtype) -> tuple[Tensor, Tensor]:
        """Cross-attention context [text | image] tokens (B, L + Ni, D) and its key mask."""
        text = self.text_proj(cond.text.to(dtype)) + self.modality[0]
        mask = cond.text_mask.bool()
        if cond.latent is not None:
            img = self.image_proj(self.image_embed(cond.latent.to(dtype)).transpose(1, 2)) + self.modality[1]
            img_mask = (cond.latent_mask > 0)[:, None].expand(-1, img.shape[1])
            text, mask = torch.cat([text, img], 1), torch.cat([mask, img_mask], 1)
        return text, mask

    def rope(self, frame_offset: int, device, frames: int | None = None) -> tuple[Tensor, Tensor]:
        """Rotary tables for this grid (or `frames` latent frames of it) and frame offset, computed once
        per (offset, frames, device)."""
        c = self.config
        f, h, w = c.grid
        key = (frame_offset, frames or f, str(device))
        if key not in self._rope_cache:
            self._rope_cache[key] = rope_tables(
                (frames or f, h, w), c.dim // c.heads, c.rope_theta, frame_offset, device=device
            )
        return self._rope_cache[key]

    def context_rope(self, n_text: int, with_image: bool, device) -> tuple[Tensor, Tensor]:
        """Rotary tables for the cross-attention keys: text tokens unrotated, image tokens at their
        (row, column) in frame 0, so a query can look up the first frame where it is (or nearby)."""
        key = ("context", n_text, with_image, str(device))
        if key not in self._rope_cache:
            c = self.config
            f, h, w = c.grid
            d = c.dim // c.heads
            cos, sin = torch.ones(n_text, d, device=device), torch.zeros(n_text, d, device=device)
            if with_image:
                img_cos, img_sin = rope_tables((1, h, w), d, c.rope_theta, 0, device=device)
                cos, sin = torch.cat([cos, img_cos]), torch.cat([sin, img_sin])
            self._rope_cache[key] = (cos, sin)
        return self._rope_cache[key]

    def attention_mask(self, device, frames: int | None = None, cached: int = 0) -> Tensor | None:
        """Block-causal mask (N, cached + N) of `frames` latent frames (default: the grid's): a query
        block sees its own and earlier frame blocks, and all `cached` tokens before them."""
        c = self.config
        if not c.causal_block:
            return None
        f, h, w = c.grid
        return shared.block_mask(frames or f, h * w, c.causal_block, cached, device)

    def conditioning(self, t: Tensor, cond: Cond, frames: int | None = None) -> Tensor:
        """Per-frame conditioning vectors (B, F', D): time embedding + pooled text embedding; `frames`:
        the video frames of a segment (default: the model's)."""
        c = self.config
        frames = frames or c.frames
        f = frames // c.patch[0]
        if t.ndim == 1:
            t = t[:, None].expand(-1, f)
        elif t.shape[1] == frames and c.patch[0] > 1:
            t = t[:, :: c.patch[0]]  # one time per latent frame
        dtype = self.time_mlp[0].weight.dtype  # the weights' (bfloat16 models take float32 inputs)
        emb = self.time_mlp(timestep_embedding(t, 256).to(dtype))  # (B, F', D)
        pooled = self.pooled_text(cond)
        standardised = (pooled - self.text_mean.to(pooled.dtype)) / self.text_std.to(pooled.dtype)
        return emb + (self.pooled_mlp(pooled.to(dtype)) + self.standardised_mlp(standardised.to(dtype)))[:, None, :]

    # -- forward -------------------------------------------------------------------------------

    def embed(self, x_t: Tensor, t: Tensor, cond: Cond, frame_offset: int = 0, cached: int = 0) -> tuple[Tensor, dict]:
        """Tokens (B, N, D) before the first block, and what every block reads beside them (`cached`:
        tokens of earlier frames in the KV cache, which the mask lets every query see)."""
        self.check_input(x_t, t, cond)
        c = self.config
        B = x_t.shape[0]
        _, h, w = c.grid
        f = x_t.shape[2] // c.patch[0]
        dtype = self.patch_embed.weight.dtype

        inp = torch.cat([x_t, self.condition_video(x_t, cond, frame_offset)], dim=1).to(dtype)  # (B, 2C + 1, F, H, W)
        x = self.patch_embed(inp).flatten(2).transpose(1, 2)  # (B, N, D), N = f h w
        frames = torch.arange(frame_offset, frame_offset + f, device=x.device)
        x = x + self.frame_embed(timestep_embedding(frames / 1000.0, 64).to(dtype)).repeat_interleave(h * w, dim=0)
        if self.position_embed is not None:
            x = x + self.position_embed.to(dtype).repeat(1, f, 1)
        if cond.latent is not None:  # every frame sees the (unmoved) first frame at its own place
            img = self.image_to_frames(self.image_embed(cond.latent.to(dtype)).transpose(1, 2))  # (B, h w, D)
            x = x + (img * cond.latent_mask.to(dtype).view(B, 1, 1)).repeat(1, f, 1)
        cvec = self.conditioning(t, cond, x_t.shape[2]).to(dtype)  # (B, f, D)
        cvec = F.silu(cvec).repeat_interleave(h * w, dim=1) if f > 1 and cvec.shape[1] > 1 else F.silu(cvec[:, :1])
        context, context_mask = self.context(cond, dtype)
        rope = self.rope(frame_offset, x.device, f)
        rope_context = self.context_rope(cond.text.shape[1], cond.latent is not None, x.device)
        mask = self.attention_mask(x.device, f, cached)
        return x, dict(
            c=cvec, rope=rope, mask=mask, context=context, context_mask=context_mask, rope_context=rope_context
        )

    def unpatchify(self, x: Tensor, cvec: Tensor, dtype) -> Tensor:
        """Final adaLN and projection, tokens (B, N, D) -> v (B, C, F, H, W)."""
        c = self.config
        B, (_, h, w), (pf, ph, pw) = x.shape[0], c.grid, c.patch
        f = x.shape[1] // (h * w)
        shift, scale = self.ada_out(cvec).chunk(2, dim=-1)
        x = self.out(modulate(self.norm_out(x), shift, scale))  # (B, N, pf ph pw C)
        x = x.view(B, f, h, w, pf, ph, pw, c.channels)
        x = x.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(B, c.channels, f * pf, c.height, c.width)
        return x.to(dtype)

    def forward(
        self, x_t: Tensor, t: Tensor, cond: Cond, frame_offset: int = 0, cache: KVCache | None = None
    ) -> Tensor:
        """v for x_t; a causal model's segment at `frame_offset` reads (and, if `cache.writing`, adds
        to) the keys and values of the frames before it in `cache`."""
        if cache is not None and not self.config.causal_block:
            raise UserError("a KV cache needs a block-causal model (causal_block > 0): this one is bidirectional")
        x, ctx = self.embed(x_t, t, cond, frame_offset, cache.tokens if cache is not None else 0)
        for i, block in enumerate(self.blocks):
            x = block(x, **ctx, cache=cache.layers[i] if cache is not None else None)
        if cache is not None:
            cache.advance(x.shape[1], x_t.shape[2] // self.config.patch[0])
        return self.unpatchify(x, ctx["c"], x_t.dtype)

    def features(self, x_t: Tensor, t: Tensor, cond: Cond, layers: tuple[int, ...]) -> list[Tensor]:
        """The truncated forward: tokens (B, N, D) after each block in `layers`; later blocks never run."""
        want = sorted(set(layers))
        if not want or want[0] < 0 or want[-1] >= len(self.blocks):
            raise UserError(
                f"feature layers {tuple(layers)} are not blocks of this {len(self.blocks)}-block model: use indices 0 "
                f"to {len(self.blocks) - 1}"
            )
        x, ctx = self.embed(x_t, t, cond)
        out = {}
        for i, block in enumerate(self.blocks[: want[-1] + 1]):
            x = block(x, **ctx)
            if i in want:
                out[i] = x
        return [out[i] for i in layers]

    # -- the model border (types.VideoModel) ---------------------------------------------------

    lora_targets = LORA_TARGETS

    @property
    def spec(self) -> ModelSpec:
        c = self.config
        return ModelSpec(
            "video_dit", c.channels, c.frames, c.height, c.width, c.patch, c.dim, c.depth, c.text_dim, c.channels
        )

    @property
    def causal_block(self) -> int:
        """Latent frames per causal block, 0 for a bidirectional model (causal.py reads every model's)."""
        return self.config.causal_block

    def condition_image(self, cond: Cond) -> Tensor | None:
        """The first-frame condition latent (B, C, H, W): the first frame's pixels here."""
        return cond.latent

    def config_dict(self) -> dict:
        d = asdict(self.config)
        d["patch"] = list(d["patch"])
        return d


def example_cond(model: VideoDiT, cond: Cond) -> Cond:
    """`cond` with a zero first frame (B, C, H, W) beside its text: the inputs of an image-to-video call
    at the model's shapes (parallel/activations.py counts what such a call keeps)."""
    s = model.spec
    return Cond(cond.text, cond.text_mask, cond.text.new_zeros(cond.batch_size, s.cond_channels, s.height, s.width))
