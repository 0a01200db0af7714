"""The tiny random Wan2.1 folders (onestep.models.wan_tiny) load offline with diffusers' own pipelines and run."""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from onestep.models import wan_tiny

pytest.importorskip("diffusers")
pytest.importorskip("ftfy")  # the Wan pipelines clean prompts with it


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)


def _check_video(frames) -> None:
    # output_type "np": (batch, frames, height, width, 3) in [0, 1]
    assert frames.shape == (1, 9, 16, 16, 3)
    assert np.isfinite(frames).all()


def test_t2v_folder_loads_and_runs(tmp_path):
    from diffusers import WanPipeline

    out = wan_tiny.build(tmp_path / "t2v", seed=0)
    index = json.loads((out / "model_index.json").read_text())
    assert index["_class_name"] == "WanPipeline"
    assert index["tokenizer"] == ["transformers", "T5Tokenizer"]

    pipe = WanPipeline.from_pretrained(out)
    pipe.set_progress_bar_config(disable=True)
    assert not pipe.transformer.training and not pipe.text_encoder.training
    assert pipe.transformer.config.text_dim == pipe.text_encoder.config.d_model
    kw = dict(
        prompt="a monkey dances on the beach",
        negative_prompt="blurry",
        height=16,
        width=16,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=5.0,
        max_sequence_length=32,
    )
    latents = pipe(**kw, output_type="latent", generator=torch.Generator().manual_seed(0)).frames
    assert latents.shape == (1, 16, 3, 2, 2)  # (B, z, 1 + (9 - 1) / 4, 16 / 8, 16 / 8)
    assert torch.isfinite(latents).all()
    _check_video(pipe(**kw, output_type="np", generator=torch.Generator().manual_seed(0)).frames)


def test_i2v_folder_loads_and_runs(tmp_path):
    from diffusers import WanImageToVideoPipeline

    out = wan_tiny.build(tmp_path / "i2v", i2v=True, seed=0)
    pipe = WanImageToVideoPipeline.from_pretrained(out)
    pipe.set_progress_bar_config(disable=True)
    c = pipe.transformer.config
    assert c.in_channels == 36 and c.image_dim == pipe.image_encoder.config.hidden_size
    assert c.added_kv_proj_dim == c.num_attention_heads * c.attention_head_dim
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8))
    # max_sequence_length stays 512 (the default): Wan's attention splits image from text tokens by it
    frames = pipe(
        image=image,
        prompt="a cat walks slowly",
        negative_prompt="static",
        height=16,
        width=16,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=5.0,
        output_type="np",
        generator=torch.Generator().manual_seed(0),
    ).frames
    _check_video(frames)


def test_build_is_deterministic(tmp_path):
    from safetensors.torch import load_file

    a = wan_tiny.build(tmp_path / "a", seed=1, layers=1)
    before = torch.random.get_rng_state()
    b = wan_tiny.build(tmp_path / "b", seed=1, layers=1)
    assert torch.equal(before, torch.random.get_rng_state())  # the global random state is untouched
    c = wan_tiny.build(tmp_path / "c", seed=2, layers=1)
    for sub, name in [
        ("transformer", "diffusion_pytorch_model.safetensors"),
        ("vae", "diffusion_pytorch_model.safetensors"),
        ("text_encoder", "model.safetensors"),
    ]:
        wa, wb, wc = (load_file(os.path.join(d, sub, name)) for d in (a, b, c))
        assert wa.keys() == wb.keys()
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
        assert any(not torch.equal(wa[k], wc[k]) for k in wa)
    assert json.loads((a / "transformer" / "config.json").read_text())["num_layers"] == 1
