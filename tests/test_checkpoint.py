"""Checkpoints: optimiser state survives a round trip even while the trainer keeps its role closed."""

import warnings

import torch

from onestep.train.checkpoint import Checkpointer, OptimizerState


def test_optimizer_state_round_trip_with_frozen_parameters(tmp_path):
    warnings.filterwarnings("ignore", message=".*torch.distributed is disabled.*")
    torch.manual_seed(0)
    m = torch.nn.Linear(3, 3)
    o = torch.optim.Adam(m.parameters(), betas=(0.5, 0.999))
    for _ in range(2):
        m(torch.randn(2, 3)).sum().backward()
        o.step()
    m.requires_grad_(False)  # the trainer closes every role between its updates
    ckpt = Checkpointer(tmp_path)
    ckpt.save(2, {"model": m, "optim": OptimizerState(m, o)})
    m2 = torch.nn.Linear(3, 3).requires_grad_(False)
    o2 = torch.optim.Adam(m2.parameters(), betas=(0.5, 0.999))
    ckpt.load(2, {"model": m2, "optim": OptimizerState(m2, o2)})
    assert torch.equal(m.weight, m2.weight)
    assert [float(v["step"]) for v in o2.state.values()] == [2.0, 2.0]
    for a, b in zip(o.state.values(), o2.state.values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])
    assert not any(p.requires_grad for p in m2.parameters())  # the flags are restored
    assert ckpt.latest() == 2 and not list(tmp_path.glob("*.partial"))


def test_a_kill_during_a_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    """A save that dies halfway leaves step_N.partial beside the last complete checkpoint, which stays
    the one resumed from and loads; the next save replaces the debris."""
    import pytest

    from onestep.train import checkpoint

    warnings.filterwarnings("ignore", message=".*torch.distributed is disabled.*")
    m = torch.nn.Linear(3, 3)
    ckpt = Checkpointer(tmp_path)
    ckpt.save(2, {"model": m})
    real_save = checkpoint.dcp.save

    def dying(state, checkpoint_id):
        real_save(state, checkpoint_id=checkpoint_id)  # the shards are written, the rename never happens
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.dcp, "save", dying)
    with torch.no_grad():
        m.weight.add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save(4, {"model": m})
    assert ckpt.latest() == 2 and (tmp_path / "step_00000004.partial").is_dir()
    m2 = torch.nn.Linear(3, 3)
    ckpt.load(2, {"model": m2})
    torch.testing.assert_close(m2.weight, m.weight - 1.0)
    monkeypatch.setattr(checkpoint.dcp, "save", real_save)
    ckpt.save(4, {"model": m})
    assert ckpt.latest() == 4 and not list(tmp_path.glob("*.partial"))
