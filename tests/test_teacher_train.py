"""Teacher training: a tiny run finishes, exports a model, and resumes bit-exactly."""

import torch

from onestep.configs.base import override
from onestep.configs.teacher import teacher_tiny
from onestep.models.io import load_model
from onestep.train.teacher import train


def weights(path):
    model, _ = load_model(path)
    return model.state_dict()


def test_resume_is_exact(tmp_path):
    cfg = override(teacher_tiny(), {"steps": 4, "checkpoint_every": 2})
    train(cfg, tmp_path / "straight", progress=False)
    train(cfg, tmp_path / "split", max_steps=2, progress=False)  # stops at step 2 ...
    train(cfg, tmp_path / "split", progress=False)  # ... and resumes from its checkpoint
    a, b = weights(tmp_path / "straight" / "model"), weights(tmp_path / "split" / "model")
    assert all(torch.equal(a[k], b[k]) for k in a)
    # and training moved the weights at all
    fresh = weights(tmp_path / "straight" / "model")
    assert any(v.abs().sum() > 0 for k, v in fresh.items() if k.startswith("out."))


def test_resume_refuses_another_model(tmp_path):
    import pytest

    from onestep.errors import UserError

    cfg = teacher_tiny()
    train(override(cfg, {"steps": 2}), tmp_path / "run", progress=False)
    with pytest.raises(UserError, match="another model"):
        train(override(cfg, {"model.dim": 64}), tmp_path / "run", progress=False)


def test_init_from_keeps_the_source_weights_and_text_stats(tmp_path):
    from onestep.train.teacher import initial_model
    from onestep.models.text import TextEncoder

    source = train(override(teacher_tiny(), {"steps": 2}), tmp_path / "a", progress=False)
    cfg = override(teacher_tiny(), {"init_from": str(source), "text_stats_prompts": 64})
    model = initial_model(cfg, TextEncoder(cfg.max_text))
    old, _ = load_model(source)
    assert torch.equal(model.blocks[0].attn.qkv.weight, old.blocks[0].attn.qkv.weight)
    assert torch.equal(model.text_mean, old.text_mean) and torch.equal(model.text_std, old.text_std)
    assert model.text_std.min() > 0 and not torch.equal(model.text_mean, torch.zeros_like(model.text_mean))
