"""Text encoders named by the model (models/text.py), the pinned all-mpnet unpacking, and moving a
model to another encoder (models/text_swap.py)."""

import hashlib
import io
import zipfile

import pytest
import torch

from onestep.configs.base import override
from onestep.configs.teacher import TeacherConfig
from onestep.errors import UserError
from onestep.models.text import TextEncoder, check_name, unpack_parts
from onestep.models.text_swap import swapped, token_map
from onestep.models.video_dit import DiTConfig, VideoDiT
from onestep.types import Cond
from tests.tiny import tiny_teacher

WEIGHTS = b"not really safetensors"


def split_zip(tmp_path, parts: int = 2) -> list:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("encoder/model.safetensors", WEIGHTS)
        z.writestr("encoder/config.json", "{}")
    data, paths = buffer.getvalue(), []
    for i in range(parts):
        path = tmp_path / f"encoder.zip.{i + 1:03d}"
        path.write_bytes(data[i * len(data) // parts : (i + 1) * len(data) // parts])
        paths.append(path)
    return paths


def test_parts_join_into_the_checked_folder(tmp_path):
    out = unpack_parts(split_zip(tmp_path), tmp_path / "cache" / "encoder", hashlib.sha256(WEIGHTS).hexdigest())
    assert (out / "model.safetensors").read_bytes() == WEIGHTS and (out / "config.json").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["encoder"]  # nothing temporary left


def test_wrong_hash_or_broken_parts_leave_nothing(tmp_path):
    parts = split_zip(tmp_path)
    with pytest.raises(UserError, match="not the pinned"):
        unpack_parts(parts, tmp_path / "cache" / "encoder", "0" * 64)
    with pytest.raises(UserError, match="do not join into a zip"):
        unpack_parts(parts[1:], tmp_path / "cache" / "encoder", hashlib.sha256(WEIGHTS).hexdigest())
    assert list((tmp_path / "cache").iterdir()) == []


def test_the_model_config_names_its_encoder():
    with pytest.raises(UserError, match="unknown text encoder 'clip'"):
        check_name("clip")
    with pytest.raises(UserError, match="set model.text_dim=768"):
        VideoDiT(DiTConfig(dim=32, depth=1, heads=2, text_encoder="mpnet"))
    cfg = override(TeacherConfig(), {"model.text_encoder": "mpnet", "model.text_dim": "768"})  # either order
    assert VideoDiT(DiTConfig(**{**vars(cfg.model), "dim": 32, "depth": 1, "heads": 2})).text_proj[0].in_features == 768


def test_mpnet_states_zero_filled_and_independent_of_the_batch():
    enc = TextEncoder.of({"max_text": 24, "model": {"text_encoder": "mpnet"}})
    prompts = ["the camera pans left", "push in toward the centre of the image, slowly and steadily"]
    text, mask = enc(prompts)
    assert text.shape == (2, 24, 768) and mask.sum(1).tolist()[0] < mask.sum(1).tolist()[1]
    assert text[0][~mask[0]].abs().max() == 0
    alone, _ = TextEncoder(24, name="mpnet")(prompts[:1])
    torch.testing.assert_close(alone[0][mask[0]], text[0][mask[0]], atol=1e-5, rtol=1e-5)
    assert TextEncoder.of({"max_text": 8, "model": {}}).dim == 384  # models before the field read MiniLM


def test_a_swapped_model_reads_the_new_states_as_the_old_read_the_old():
    """With an exact linear map between the two encoders' states, the swapped model's output on the
    new states equals the source's on the old (and token_map recovers the map)."""
    g = torch.Generator().manual_seed(0)
    model = tiny_teacher()
    m = torch.randn(769, 384, generator=g) * 0.05
    new = torch.randn(3, 6, 768, generator=g)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[0, 4:] = False
    old = torch.cat([new, torch.ones(3, 6, 1)], -1) @ m
    model.set_text_stats(torch.randn(64, 384, generator=g) * 0.3 + 0.1)
    target = swapped(model, m, torch.randn(64, 768, generator=g) * 0.5, "mpnet")
    assert target.config.text_encoder == "mpnet" and target.text_proj[0].in_features == 768
    x, t, image = (
        torch.randn(3, 3, 8, 32, 32, generator=g),
        torch.rand(3, generator=g),
        torch.randn(3, 3, 32, 32, generator=g),
    )
    torch.testing.assert_close(
        target(x, t, Cond(new, mask, image)), model(x, t, Cond(old, mask, image)), atol=2e-4, rtol=1e-3
    )

    new, mask = (
        torch.randn(60, 20, 768, generator=g),
        torch.ones(60, 20, dtype=torch.bool),
    )  # 1,200 tokens for 769 unknowns
    old = torch.cat([new, torch.ones(60, 20, 1)], -1) @ m
    fitted, error, used = token_map(
        lambda p: (old, mask), lambda p: (new, mask), [f"p{i}" for i in range(60)], ridge=1e-9
    )
    assert used == 60 and error < 1e-3
    torch.testing.assert_close(fitted, m, atol=1e-3, rtol=1e-3)


def test_a_second_unpacking_keeps_the_first(tmp_path):
    digest = hashlib.sha256(WEIGHTS).hexdigest()
    first = unpack_parts(split_zip(tmp_path), tmp_path / "cache" / "encoder", digest)
    assert unpack_parts(split_zip(tmp_path), tmp_path / "cache" / "encoder", digest) == first
    assert sorted(p.name for p in first.parent.iterdir()) == ["encoder"]
