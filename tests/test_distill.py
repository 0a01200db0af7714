"""Distillation runs end to end at tiny size: three steps of each phase, exact resume after SIGKILL,
and the divergence guard."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from onestep.commands.distill import run
from onestep.errors import UserError
from onestep.methods.vsd import VSD
from onestep.models.io import load_model, save_model
from onestep.train.trainer import Diverged
from onestep.types import LossOutput
from tests.test_methods import tiny_teacher


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("teacher") / "teacher"
    save_model(d, tiny_teacher(), {"role": "teacher", "sampling": {"kind": "euler", "steps": 4, "guidance": 3.0, "shift": 3.0}})
    return d


def weights(path: Path) -> dict:
    return load_model(path)[0].state_dict()


def test_three_steps_of_each_phase(teacher_dir, tmp_path):
    student = run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "run", overrides=[], progress=False)
    model, config = load_model(student)
    assert config["role"] == "student" and config["sampling"]["kind"] == "renoise"
    ckpts = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert ckpts == [f"step_{s:08d}" for s in (3, 4, 6, 8, 9)]  # every 2 steps, the newest 2 of those, and each phase's end
    assert len(list((tmp_path / "run" / "ode_pairs").glob("chunk_*.safetensors"))) == 2  # 4 pairs, batch 2, a batch a chunk
    # the student moved away from the teacher
    t = load_model(teacher_dir)[0].state_dict()
    assert any(not torch.equal(t[k], v) for k, v in model.state_dict().items())


def test_a_phase_of_zero_steps_is_skipped_and_makes_no_pairs(teacher_dir, tmp_path):
    with pytest.raises(UserError, match="has none"):  # the later phases' anchor needs the ODE phase's pairs
        run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "anchored", overrides=["ode.steps=0"], max_steps=1, progress=False)
    run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "run", overrides=["ode.steps=0", "priming.method.ode_weight=0", "equilibrium.method.ode_weight=0"], max_steps=1, progress=False)
    assert not (tmp_path / "run" / "ode_pairs").exists()
    assert [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()] == ["step_00000001"]


def test_resume_after_sigkill_matches_an_uninterrupted_run(teacher_dir, tmp_path):
    sets = ["--set", "checkpoint_every=1"]
    run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "straight", overrides=["checkpoint_every=1"], progress=False)
    kill_after = random.Random(os.getpid()).randint(1, 8)  # any step, any phase
    cmd = [sys.executable, "-m", "onestep.cli", "distill", "pose-test", "--teacher", str(teacher_dir), "--out", str(tmp_path / "killed"), *sets]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = tmp_path / "killed" / "checkpoints" / f"step_{kill_after:08d}"
    deadline = time.time() + 300
    while not target.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / "student").exists() or kill_after == 9
    run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "killed", overrides=["checkpoint_every=1"], progress=False)
    a, b = weights(tmp_path / "straight" / "student"), weights(tmp_path / "killed" / "student")
    assert all(torch.equal(a[k], b[k]) for k in a), f"resume after a kill at step {kill_after} differs"


def test_divergence_guard_names_the_step_and_keeps_the_last_good_checkpoint(teacher_dir, tmp_path, monkeypatch):
    calls = {"n": 0}
    original = VSD.critic_loss

    def poisoned(self, nets, batch, g):
        calls["n"] += 1
        out = original(self, nets, batch, g)
        if calls["n"] >= 3:
            return LossOutput(out.loss * float("nan"), out.logs)
        return out

    monkeypatch.setattr(VSD, "critic_loss", poisoned)
    with pytest.raises(Diverged, match=r"step 5: critic loss is nan.*step_00000004"):
        run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "run", overrides=[], progress=False)
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step_00000002", "step_00000003", "step_00000004"]  # 3 ends the ODE phase
