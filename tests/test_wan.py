"""The `wan` adapter on tiny random Wan transformers built here (no downloads): it feeds diffusers'
WanTransformer3DModel exactly as Wan's pipelines do, its truncated forward matches the full one, a
LoRA fake score starts as the teacher, its Euler step is the scheduler's, and POSE's phases step."""

import json
import math

import pytest
import torch

from onestep import flow, methods
from onestep.errors import UserError
from onestep.methods.pose import PoseConfig
from onestep.methods.vsd import VSDConfig
from onestep.models import wan_tiny
from onestep.models.io import load_model, read_config, weights_hash
from onestep.models.lora import LoraScore
from onestep.models.wan import TEXT_LEN, WanModel
from onestep.train.roles import build_roles
from onestep.types import Batch, Cond
from tests.test_methods import run_steps

SIZE = (3, 4, 4)  # latent frames, height, width: 12 tokens with Wan's (1, 2, 2) patches
TEXT_DIM, IMAGE_DIM, IMAGE_TOKENS = wan_tiny.TEXT_ENCODER["d_model"], wan_tiny.IMAGE_ENCODER["hidden_size"], 5


def tiny_transformer(i2v: bool, layers: int = 3):
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    return WanTransformer3DModel(**wan_tiny.transformer_kwargs(i2v=i2v, layers=layers)).eval()


@pytest.fixture(scope="module", params=["t2v", "i2v"])
def wan_dir(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param) / "transformer"
    tiny_transformer(request.param == "i2v").save_pretrained(folder)
    return folder


def cond_for(i2v: bool, B: int = 2, seed: int = 1) -> Cond:
    g = torch.Generator().manual_seed(seed)
    text, mask = torch.randn(B, 7, TEXT_DIM, generator=g), torch.ones(B, 7, dtype=torch.bool)
    mask[0, 5:] = False
    cond = Cond(text, mask).with_negative(torch.randn(1, 4, TEXT_DIM, generator=g), torch.ones(1, 4, dtype=torch.bool))
    if i2v:
        cond.latent, cond.latent_mask = torch.randn(B, 16, *SIZE, generator=g), torch.ones(B)
        cond.image_tokens = torch.randn(B, IMAGE_TOKENS, IMAGE_DIM, generator=g)
    return cond


def test_the_adapter_feeds_wan_as_its_pipelines_do():
    """v = transformer(x_t, 1000 t, text zero-padded to 512 tokens) for T2V; for I2V the input is
    [x_t | 4-channel mask, 1 on latent frame 0 | condition latent] and the CLIP tokens go in beside."""
    for i2v in (False, True):
        transformer = tiny_transformer(i2v)
        model = WanModel(transformer, SIZE)
        cond, x, t = cond_for(i2v), torch.randn(2, 16, *SIZE), torch.tensor([0.3, 0.9])
        text = torch.zeros(2, TEXT_LEN, TEXT_DIM)
        text[:, :7] = cond.text * cond.text_mask[..., None]
        hidden, image = x, None
        if i2v:
            mask = torch.zeros(2, 4, *SIZE)
            mask[:, :, 0] = 1.0
            hidden, image = torch.cat([x, mask, cond.latent], 1), cond.image_tokens
        want = transformer(hidden, torch.tensor([300.0, 900.0]), text, image, return_dict=False)[0]
        torch.testing.assert_close(model(x, t, cond), want)
        assert model.spec.video_shape == (16, *SIZE) and model.spec.cond_channels == (16 if i2v else 0)


def test_i2v_drops_the_condition_where_its_mask_is_zero_and_keeps_the_image_unconditionally():
    model = WanModel(tiny_transformer(True), SIZE)
    cond, x, t = cond_for(True), torch.randn(2, 16, *SIZE), torch.full((2,), 0.5)
    dropped = Cond(cond.text, cond.text_mask, torch.zeros_like(cond.latent), torch.zeros(2), cond.image_tokens)
    cond.latent_mask = torch.tensor([1.0, 0.0])
    v = model(x, t, cond)
    torch.testing.assert_close(v[1], model(x, t, dropped)[1])
    assert not torch.allclose(v[0], model(x, t, dropped)[0])
    uncond = cond.uncond()
    assert uncond.image_tokens is cond.image_tokens and uncond.latent is cond.latent


def test_per_frame_times_are_per_token_timesteps():
    model = WanModel(tiny_transformer(False), SIZE)
    x, cond = torch.randn(2, 16, *SIZE), cond_for(False)
    torch.testing.assert_close(model(x, torch.full((2, SIZE[0]), 0.4), cond), model(x, torch.full((2,), 0.4), cond))
    assert model.timestep(torch.tensor([[0.1, 0.2, 0.3]])).tolist() == [[100.0] * 4 + [200.0] * 4 + [300.0] * 4]


def test_truncated_forward_matches_the_full_pass_and_stops():
    model = WanModel(tiny_transformer(True), SIZE)
    x, t, cond = torch.randn(2, 16, *SIZE), torch.full((2,), 0.6), cond_for(True)
    seen = []
    handles = [
        b.register_forward_hook(lambda m, a, out, i=i: seen.append((i, out))) for i, b in enumerate(model.blocks)
    ]
    model(x, t, cond)
    full = dict(seen)
    seen.clear()
    feats = model.features(x, t, cond, (1, 0))
    for h in handles:
        h.remove()
    assert [i for i, _ in seen] == [0, 1]  # block 2 never ran
    torch.testing.assert_close(feats[0], full[1])
    torch.testing.assert_close(feats[1], full[0])
    assert feats[0].shape == (2, 12, model.spec.dim)
    with pytest.raises(UserError, match="not blocks"):
        model.features(x, t, cond, (3,))


def test_lora_fake_score_starts_as_the_teacher_and_targets_every_block_linear():
    model = WanModel(tiny_transformer(True), SIZE)
    x, t, cond = torch.randn(2, 16, *SIZE), torch.full((2,), 0.6), cond_for(True)
    before = model(x, t, cond)
    fake = LoraScore(model, rank=4)
    torch.testing.assert_close(fake(x, t, cond), before)
    adapted = {n.split(".lora_")[0] for n in fake.names}
    assert len(adapted) == 3 * (4 + 6 + 2)  # per block: attn1 q k v out, attn2 q k v out + image k v, ffn in out
    torch.testing.assert_close(model(x, t, cond), before)  # the teacher role stays the teacher


def test_one_euler_step_with_the_wan_velocity_is_the_schedulers_step():
    from diffusers import FlowMatchEulerDiscreteScheduler

    transformer = tiny_transformer(False)
    model, cond = WanModel(transformer, SIZE), cond_for(False)
    sched = FlowMatchEulerDiscreteScheduler(shift=3.0)
    sched.set_timesteps(4)
    x = torch.randn(2, 16, *SIZE)
    for i in range(2):
        timestep, t, t_next = sched.timesteps[i], sched.sigmas[i], sched.sigmas[i + 1]
        text = torch.cat([cond.text * cond.text_mask[..., None], torch.zeros(2, TEXT_LEN - 7, TEXT_DIM)], 1)
        theirs = sched.step(
            transformer(x, timestep.expand(2), text, return_dict=False)[0], timestep, x, return_dict=False
        )[0]
        ours = x + (t_next - t) * model(x, t.expand(2), cond)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
        x = theirs


def test_wan_folders_load_through_the_one_loader(wan_dir):
    model, config = load_model(wan_dir, latent_size=SIZE)
    assert (
        isinstance(model, WanModel)
        and not model.training
        and config["kind"] == "wan"
        and read_config(wan_dir) == config
    )
    assert config["sampling"]["shift"] == 3.0 and config["max_text"] == TEXT_LEN
    assert len(weights_hash(wan_dir)) == 16
    with pytest.raises(UserError, match="latent video size"):
        load_model(wan_dir)


def test_a_wan_folder_without_weights_or_transformer_names_what_is_missing(tmp_path):
    (tmp_path / "pipe").mkdir()
    (tmp_path / "pipe" / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline"}))
    with pytest.raises(UserError, match="no transformer/config.json"):
        load_model(tmp_path / "pipe", latent_size=SIZE)
    partial = tmp_path / "partial"
    tiny_transformer(False).save_pretrained(partial)
    from safetensors.torch import load_file, save_file

    (weights,) = partial.glob("*.safetensors")
    save_file({k: v for k, v in load_file(weights).items() if k != "proj_out.weight"}, weights)
    with pytest.raises(UserError, match="lack 1 tensors"):
        load_model(partial, latent_size=SIZE)
    folder = tmp_path / "bare"
    tiny_transformer(False).save_pretrained(folder)
    for w in folder.glob("*.safetensors"):
        w.unlink()
    with pytest.raises(UserError, match="no .safetensors"):
        load_model(folder, latent_size=SIZE)


@pytest.mark.parametrize("phase", ["priming", "equilibrium"])
def test_pose_phases_step_on_wan(phase, wan_dir):
    """One step of each POSE phase on a tiny T2V and I2V Wan: finite losses, gradients in their own
    groups only, the teacher unchanged (the method contract of tests/test_methods.py)."""
    config = (
        VSDConfig(critic_ratio=1, lora_rank=4)
        if phase == "priming"
        else PoseConfig(head_dim=16, queries=2, taps=(0, 2))
    )
    method = methods.build(config)
    roles = build_roles(wan_dir, [method], seed=0, device=torch.device("cpu"), latent_size=SIZE)
    i2v = roles.teacher.i2v
    batch = Batch(torch.randn(2, 16, *SIZE), cond_for(i2v))
    teacher_before = {k: v.clone() for k, v in roles.teacher.state_dict().items() if "lora_" not in k}
    schedule = run_steps(method, roles, batch, steps=1)
    assert set(schedule) == set(method.groups(roles))
    assert all(torch.equal(v, roles.teacher.state_dict()[k]) for k, v in teacher_before.items())
    v = roles.student(torch.randn(2, 16, *SIZE), torch.ones(2), batch.cond)
    assert math.isfinite(flow.x0_from_v(batch.video, v, 1.0).abs().sum().item())


@pytest.mark.parametrize("phase", ["priming", "equilibrium"])
def test_no_tensor_is_made_on_the_default_device_on_wan(phase, wan_dir):
    """The device trap of tests/test_methods.py on the Wan adapter (and diffusers' code under it):
    with the default device `meta`, a tensor made without naming a device fails the step."""
    config = (
        VSDConfig(critic_ratio=1, lora_rank=4)
        if phase == "priming"
        else PoseConfig(head_dim=16, queries=2, taps=(0, 2))
    )
    method = methods.build(config)
    roles = build_roles(wan_dir, [method], seed=0, device=torch.device("cpu"), latent_size=SIZE)
    batch = Batch(torch.randn(2, 16, *SIZE), cond_for(roles.teacher.i2v))
    with torch.device("meta"):
        run_steps(method, roles, batch, steps=1)
