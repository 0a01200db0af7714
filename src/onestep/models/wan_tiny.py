"""Tiny random Wan2.1 diffusers folders, built from nothing: tests and benchmarks get a complete Wan
pipeline folder (model_index.json + components) without downloading anything.

`build(out)` writes what `WanPipeline.from_pretrained(out)` (text-to-video) or, with `i2v=True`,
`WanImageToVideoPipeline.from_pretrained(out)` (image-to-video) loads offline. Every component is built
from a config with random weights under `seed` (the same seed writes the same weights), at the sizes
diffusers' own Wan tests use (tests/pipelines/wan/test_wan.py, test_wan_image_to_video.py), except the
parts those tests download from the Hub (`hf-internal-testing/tiny-random-t5`), built here instead:

- tokenizer: `transformers.T5Tokenizer` (the class Wan's umt5-xxl tokenizer is) over a small
  hand-written Unigram vocabulary (`_VOCAB_WORDS` as whole words, every printable ASCII character
  with and without the word-start mark as fallback); ids 0 <pad>, 1 </s> (appended to every prompt),
  2 <unk>. Saved as tokenizer.json, so loading needs neither sentencepiece nor the Hub.
- text_encoder: `transformers.UMT5EncoderModel` (as Wan) from a tiny `UMT5Config` (`TEXT_ENCODER`).
- transformer: `WanTransformer3DModel` (`transformer_kwargs`); for I2V in_channels 36 (16 noisy latent +
  4 mask + 16 condition latent), image_dim = the CLIP hidden size, and added_kv_proj_dim = the inner dim
  (heads x head dim) as in the real Wan2.1-I2V (which diffusers' tiny I2V test leaves out; without it
  the image tokens would be read as text tokens).
- vae: `AutoencoderKLWan` (`VAE`): base_dim 3, but the real 8x spatial / 4x temporal compression, 16
  latent channels, and the real Wan2.1 VAE's `latents_mean` / `latents_std` (diffusers' defaults).
- scheduler: `FlowMatchEulerDiscreteScheduler(shift=3.0)`, which the pipelines accept; the real Wan2.1
  folders ship `UniPCMultistepScheduler` with `flow_shift` (3.0 for 480p, 5.0 for 720p) instead.
- I2V only: image_encoder `transformers.CLIPVisionModel` (the class the real Wan2.1-I2V folders hold and
  `WanImageToVideoPipeline` annotates; it reads `hidden_states[-2]`) from a tiny `CLIPVisionConfig`
  (`IMAGE_ENCODER`: 32 px, 16 px patches, so 2 x 2 + 1 = 5 image tokens, where the real one has 257),
  and image_processor `CLIPImageProcessor(size=32, crop_size=32)` with its PIL backend (saved as
  `CLIPImageProcessorPil` under transformers 5, which is what `CLIPImageProcessor` falls back to without
  torchvision; pinned so the preprocessing does not depend on whether torchvision is installed).

Weights are float32. Calling the pipelines: the I2V transformer's attention (diffusers'
`WanAttnProcessor`) takes the last 512 context tokens as text, so `WanImageToVideoPipeline` must run
with `max_sequence_length=512` (its default); text-to-video takes any length. The Wan pipelines use
`ftfy` to clean prompts (the I2V one calls it unconditionally, so it fails without it): a dependency of
this package. Importing diffusers' I2V pipeline without torchvision logs transformers' warning that
`CLIPImageProcessor` falls back to `CLIPImageProcessorPil`; harmless.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "IMAGE_ENCODER",
    "IMAGE_SIZE",
    "TEXT_ENCODER",
    "VAE",
    "WAN21_LATENTS_MEAN",
    "WAN21_LATENTS_STD",
    "build",
    "transformer_kwargs",
]

# The real Wan2.1 VAE's per-channel latent statistics (Wan2.1's wan/modules/vae.py mean/std, the
# Wan2.1 Diffusers folders' vae/config.json, AutoencoderKLWan's defaults): the pipelines normalize
# latents as (z - mean) / std.
WAN21_LATENTS_MEAN: list[float] = [
    -0.7571,
    -0.7089,
    -0.9113,
    0.1075,
    -0.1745,
    0.9653,
    -0.1517,
    1.5508,
    0.4134,
    -0.0715,
    0.5517,
    -0.3632,
    -0.1922,
    -0.9497,
    0.2503,
    -0.2921,
]
WAN21_LATENTS_STD: list[float] = [
    2.8184,
    1.4541,
    2.3275,
    2.6558,
    1.2196,
    1.7708,
    2.6052,
    2.0743,
    3.2687,
    2.1526,
    2.8652,
    1.5579,
    1.6382,
    1.1253,
    2.8251,
    1.9160,
]

VAE: dict[str, Any] = dict(
    base_dim=3,
    z_dim=16,
    dim_mult=[1, 1, 1, 1],
    num_res_blocks=1,
    temperal_downsample=[False, True, True],  # (sic: diffusers' spelling) 4x in time, 8x in space
    latents_mean=WAN21_LATENTS_MEAN,
    latents_std=WAN21_LATENTS_STD,
)

# UMT5 encoder; vocab_size is set to the tokenizer's length when building.
TEXT_ENCODER: dict[str, Any] = dict(
    d_model=32,
    d_kv=16,
    d_ff=64,
    num_layers=2,
    num_heads=2,
    relative_attention_num_buckets=8,
    relative_attention_max_distance=32,
    dropout_rate=0.0,
    feed_forward_proj="gated-gelu",  # as umt5-xxl
    pad_token_id=0,
    eos_token_id=1,
    decoder_start_token_id=0,
)

IMAGE_SIZE = 32
IMAGE_ENCODER: dict[str, Any] = dict(
    hidden_size=8,
    intermediate_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    image_size=IMAGE_SIZE,
    patch_size=16,
    projection_dim=8,
)

# Whole words of the tokenizer (anything else is spelled out in characters).
_VOCAB_WORDS = """
a an the of in on at to from with and or but is are was be by for as it its this that into over
under near through while then very slowly quickly gently camera shot close up wide view scene
video frame light dark sun moon sky cloud clouds rain snow wind fog water sea ocean river lake wave
waves beach sand forest tree trees grass flower flowers mountain mountains hill road street city
house room window door car bus train boat bird birds cat dog horse fish man woman person people
child girl boy face hand hands eyes hair walks walking runs running flies flying swims swimming
dances dancing jumps sits stands looks moves moving turns falls rises red green blue yellow white
black orange purple pink gray brown golden bright soft warm cold small big large tall little old
young new beautiful cinematic realistic style high quality detailed motion background foreground
left right top bottom morning evening night day sunset sunrise fire smoke glass metal wood stone
monkey dance negative blurry static low worst
"""


def _tokenizer():
    """A T5Tokenizer (Unigram, tokenizers-backed) over a small fixed vocabulary: deterministic, no training."""
    from transformers import T5Tokenizer

    words = sorted(set(_VOCAB_WORDS.split()))
    chars = [c for c in string.printable if not c.isspace()]
    vocab: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -6.0)]
    vocab += [("\u2581" + w, -4.0 - 0.01 * len(w)) for w in words]  # a whole word beats its spelling
    vocab += [("\u2581" + c, -7.0) for c in chars]
    vocab += [(c, -8.0) for c in chars]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=512)


def transformer_kwargs(*, i2v: bool = False, layers: int = 2) -> dict[str, Any]:
    """WanTransformer3DModel's config for the tiny folder (diffusers' test sizes; text_dim = the UMT5 d_model)."""
    heads, head_dim = 2, 12
    kw: dict[str, Any] = dict(
        patch_size=(1, 2, 2),
        num_attention_heads=heads,
        attention_head_dim=head_dim,
        in_channels=36 if i2v else 16,
        out_channels=16,
        text_dim=TEXT_ENCODER["d_model"],
        freq_dim=256,
        ffn_dim=32,
        num_layers=layers,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    if i2v:
        kw.update(image_dim=IMAGE_ENCODER["hidden_size"], added_kv_proj_dim=heads * head_dim)
    return kw


def build(out: str | Path, *, i2v: bool = False, seed: int = 0, layers: int = 2) -> Path:
    """Write a tiny random Wan2.1 diffusers folder (model_index.json + components) to `out`; returns out.

    i2v: an image-to-video folder (WanImageToVideoPipeline, with CLIP image encoder and processor)
    instead of text-to-video (WanPipeline). seed: every component's random weights (the global torch
    random state is left as it was). layers: the transformer's number of blocks.
    """
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
    )
    from transformers import CLIPVisionConfig, CLIPVisionModel, UMT5Config, UMT5EncoderModel

    try:  # transformers >= 5: the PIL backend, what CLIPImageProcessor is without torchvision
        from transformers import CLIPImageProcessorPil as CLIPImageProcessor
    except ImportError:  # transformers 4: CLIPImageProcessor is the PIL one
        from transformers import CLIPImageProcessor

    if layers < 1:
        raise ValueError(f"layers must be >= 1, got {layers}")
    out = Path(out)
    with torch.random.fork_rng(devices=[]):
        # One seed per component (offset by its position), so a component's weights do not depend
        # on what was built before it.
        torch.manual_seed(seed)
        vae = AutoencoderKLWan(**VAE)
        torch.manual_seed(seed + 1)
        tokenizer = _tokenizer()
        text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(tokenizer), **TEXT_ENCODER))
        torch.manual_seed(seed + 2)
        transformer = WanTransformer3DModel(**transformer_kwargs(i2v=i2v, layers=layers))
        scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
        components: dict[str, Any] = dict(
            transformer=transformer, vae=vae, scheduler=scheduler, text_encoder=text_encoder, tokenizer=tokenizer
        )
        if i2v:
            torch.manual_seed(seed + 3)
            components["image_encoder"] = CLIPVisionModel(CLIPVisionConfig(**IMAGE_ENCODER))
            components["image_processor"] = CLIPImageProcessor(size=IMAGE_SIZE, crop_size=IMAGE_SIZE)
    for m in components.values():
        if isinstance(m, torch.nn.Module):
            m.eval()  # built from configs, they start in training mode (no dropout here, but as loaded)
    pipe = (WanImageToVideoPipeline if i2v else WanPipeline)(**components)
    out.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(out)
    return out
