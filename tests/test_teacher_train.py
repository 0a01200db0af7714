"""Teacher training on the trainer loop: a tiny run finishes, exports a model, logs the losses the
loop of its own gave before the refactor, resumes bit-exactly, and the shipped teacher can be continued."""

import json
from pathlib import Path

import pytest
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
    from onestep.errors import UserError

    cfg = teacher_tiny()
    train(override(cfg, {"steps": 2}), tmp_path / "run", progress=False)
    with pytest.raises(UserError, match="another model"):
        train(override(cfg, {"model.dim": 64}), tmp_path / "run", progress=False)


def test_init_from_keeps_the_source_weights_and_text_stats(tmp_path):
    from onestep.models.text import TextEncoder
    from onestep.train.teacher import initial_model

    source = train(override(teacher_tiny(), {"steps": 2}), tmp_path / "a", progress=False)
    cfg = override(teacher_tiny(), {"init_from": str(source), "text_stats_prompts": 64})
    model = initial_model(cfg, TextEncoder(cfg.max_text))
    old, _ = load_model(source)
    assert torch.equal(model.blocks[0].attn.qkv.weight, old.blocks[0].attn.qkv.weight)
    assert torch.equal(model.text_mean, old.text_mean) and torch.equal(model.text_std, old.text_std)
    assert model.text_std.min() > 0 and not torch.equal(model.text_mean, torch.zeros_like(model.text_mean))
    # a model that gains the absolute-position embedding keeps the rest and starts it at zero
    grown = initial_model(override(cfg, {"model.absolute_positions": "true"}), TextEncoder(cfg.max_text))
    assert torch.count_nonzero(grown.position_embed) == 0 and torch.equal(
        grown.blocks[0].attn.qkv.weight, old.blocks[0].attn.qkv.weight
    )
    # and one that would drop trained weights (the embedding, continuing without the flag) is refused
    from onestep.errors import UserError
    from onestep.models.io import save_model

    save_model(tmp_path / "grown", grown, {"role": "teacher", "max_text": cfg.max_text})
    with pytest.raises(UserError, match="would drop .*position_embed.*absolute_positions=true"):
        initial_model(override(cfg, {"init_from": str(tmp_path / "grown")}), TextEncoder(cfg.max_text))
    # and so is one that reads another text encoder than its source
    with pytest.raises(UserError, match="reads the minilm text encoder and this model mpnet: move it first"):
        initial_model(
            override(cfg, {"model.text_encoder": "mpnet", "model.text_dim": "768"}), TextEncoder(cfg.max_text)
        )


def test_the_teacher_run_logs_the_recorded_losses(tmp_path):
    from tests.test_distill import GOLDEN, logged

    cfg = override(teacher_tiny(), {"text_stats_prompts": 16})
    train(cfg, tmp_path / "run", progress=False)
    now, golden = logged(tmp_path / "run"), json.loads(GOLDEN.read_text())["teacher-tiny"]
    for tag, values in golden.items():
        for step, value in values.items():
            assert now[tag][step] == pytest.approx(value, rel=1e-5), f"{tag} at step {step}"


def test_the_shipped_teacher_continues(tmp_path):
    """docs/teacher.md: `init_from=assets/teacher` with the shipped run's config continues the bundled
    teacher (v7 was made this way from v6, v8 from v7, v11 from v8 moved to all-mpnet, v12 from v11), and the shipped
    config is the bundled teacher's."""
    from onestep.configs.teacher import teacher_small

    assets = Path(__file__).resolve().parents[1] / "assets"
    shipped = json.loads((assets / "teacher-run" / "config.json").read_text())
    _, bundled_config = load_model(assets / "teacher")
    assert shipped["max_text"] == bundled_config["max_text"] and shipped["model"] == bundled_config["model"]
    assert shipped["steps"] == bundled_config["trained_steps"]
    keys = ("lr", "warmup", "p_drop_image", "motion_weight", "max_text", "tracks")
    model_keys = {
        f"model.{k}": shipped["model"][k] for k in ("absolute_positions", "text_encoder", "text_dim")
    }  # the documented command's --set
    cfg = override(
        teacher_small(),
        {
            **{k: shipped[k] for k in keys},
            **model_keys,
            "init_from": str(assets / "teacher"),
            "steps": 1,
            "batch_size": 2,
            "probe_every": 0,
            "checkpoint_every": 1,
            "text_stats_prompts": 16,
        },
    )
    train(cfg, tmp_path / "teacher-next", progress=False)
    model, config = load_model(tmp_path / "teacher-next" / "model")
    bundled, _ = load_model(assets / "teacher")
    assert config["trained_steps"] == 1
    moved = [(model.state_dict()[k] - v).abs().max().item() for k, v in bundled.state_dict().items()]
    assert 0 < max(moved) < 1e-2  # one step on from the bundled weights, not a fresh model
