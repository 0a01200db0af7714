"""Model directories: round trip, and one-line errors for what users get wrong."""

import json

import pytest
import torch

from onestep.errors import UserError
from onestep.models.io import load_model, save_model
from onestep.models.video_dit import DiTConfig, VideoDiT


def small(dim=32):
    return VideoDiT(DiTConfig(dim=dim, depth=1, heads=2, frames=2, height=8, width=8))


def test_round_trip(tmp_path):
    m = small()
    with torch.no_grad():
        m.out.weight.normal_()
    save_model(tmp_path / "m", m, {"role": "teacher"})
    loaded, config = load_model(tmp_path / "m")
    assert config["role"] == "teacher"
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), loaded.state_dict().values()))
    assert not any(p.requires_grad for p in loaded.parameters())


def test_missing_directory(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_model(tmp_path / "nope")


def test_missing_weights(tmp_path):
    save_model(tmp_path / "m", small())
    (tmp_path / "m" / "model.safetensors").unlink()
    with pytest.raises(UserError, match="no model.safetensors"):
        load_model(tmp_path / "m")


def test_mismatched_checkpoint(tmp_path):
    save_model(tmp_path / "a", small(32))
    save_model(tmp_path / "b", small(64))
    (tmp_path / "b" / "model.safetensors").replace(tmp_path / "a" / "model.safetensors")
    with pytest.raises(UserError, match="another model"):
        load_model(tmp_path / "a")


def test_corrupt_weights_and_wrong_kind(tmp_path):
    save_model(tmp_path / "m", small())
    (tmp_path / "m" / "model.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(UserError, match="corrupt"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps({"kind": "diffusers"}))
    with pytest.raises(UserError, match="kind"):
        load_model(tmp_path / "m")
