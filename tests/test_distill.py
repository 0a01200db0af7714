"""Distillation runs end to end at tiny size: three steps of each phase, the losses recorded by
scripts/record_golden.py, exact resume after SIGKILL, `onestep pairs`, and the divergence guard."""

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from onestep.commands.distill import pairs, run
from onestep.errors import UserError
from onestep.methods.vsd import VSD
from onestep.models.io import load_model
from onestep.train.trainer import Diverged
from onestep.types import LossOutput
from tests.tiny import tiny_teacher_dir

GOLDEN = Path(__file__).parent / "data" / "golden_losses.json"


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    return tiny_teacher_dir(tmp_path_factory.mktemp("teacher") / "teacher")


def logged(run_dir: Path) -> dict[str, dict[str, float]]:
    """Every scalar of a run's TensorBoard logs: {tag: {step: value}}."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict = {}
    for path in sorted((run_dir / "logs").glob("events.*")):
        acc = EventAccumulator(str(path))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            for e in acc.Scalars(tag):
                out.setdefault(tag, {})[str(e.step)] = e.value
    return out


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
    # every loss, gradient norm and metric of every step, as recorded (scripts/record_golden.py)
    now = logged(tmp_path / "run")
    golden = json.loads(GOLDEN.read_text())["pose-test"]
    compared, off = 0, []
    for tag, values in golden.items():
        scale = max(abs(v) for v in values.values())  # a value near 0 in a series of O(scale) is held to the series' scale
        for step, value in values.items():
            if now[tag][step] != pytest.approx(value, rel=1e-4, abs=1e-4 * scale + 1e-7):
                off.append(f"{tag} at step {step}: {now[tag][step]} (recorded {value})")
            compared += 1
    assert not off, "; ".join(off)
    assert compared >= 64


def test_a_phase_of_zero_steps_is_skipped_and_pairs_are_made_only_when_read(teacher_dir, tmp_path):
    run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "anchored", overrides=["ode.steps=0"], max_steps=1, progress=False)
    assert len(list((tmp_path / "anchored" / "ode_pairs").glob("chunk_*"))) == 2  # the anchors of later phases read them
    run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "run", overrides=["ode.steps=0", "priming.method.ode_weight=0", "equilibrium.method.ode_weight=0"], max_steps=1, progress=False)
    assert not (tmp_path / "run" / "ode_pairs").exists()
    assert [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()] == ["step_00000001"]


def test_pairs_made_once_are_read_by_a_run_and_refused_when_they_do_not_fit(teacher_dir, tmp_path):
    folder = pairs(teacher=teacher_dir, out=tmp_path / "pairs", preset="pose-test", overrides=[], progress=False)
    made = sorted(p.stat().st_mtime_ns for p in folder.glob("chunk_*"))
    run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "run", overrides=[f"data.pairs.path={folder}"], max_steps=1, progress=False)
    assert not (tmp_path / "run" / "ode_pairs").exists() and sorted(p.stat().st_mtime_ns for p in folder.glob("chunk_*")) == made
    with pytest.raises(UserError, match="teacher_steps 2 .this run: 3."):
        run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "other", overrides=[f"data.pairs.path={folder}", "data.pairs.teacher_steps=3"], max_steps=1, progress=False)
    with pytest.raises(UserError, match="did you mean train.checkpoint_every"):
        run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "flat", overrides=["checkpoint_every=1"], max_steps=1, progress=False)


def test_resume_after_sigkill_matches_an_uninterrupted_run(teacher_dir, tmp_path):
    sets = ["--set", "train.checkpoint_every=1"]
    run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "straight", overrides=["train.checkpoint_every=1"], progress=False)
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
    run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "killed", overrides=["train.checkpoint_every=1"], progress=False)
    a, b = weights(tmp_path / "straight" / "student"), weights(tmp_path / "killed" / "student")
    assert all(torch.equal(a[k], b[k]) for k in a), f"resume after a kill at step {kill_after} differs"


def test_divergence_guard_names_the_step_and_keeps_the_last_good_checkpoint(teacher_dir, tmp_path, monkeypatch):
    calls = {"n": 0}
    original = VSD.fake_score_loss

    def poisoned(self, batch, roles, g):
        calls["n"] += 1
        out = original(self, batch, roles, g)
        if calls["n"] >= 3:
            return LossOutput(out.loss * float("nan"), out.logs)
        return out

    monkeypatch.setattr(VSD, "fake_score_loss", poisoned)
    with pytest.raises(Diverged, match=r"step 5: fake_score loss is nan.*step_00000004"):
        run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "run", overrides=[], progress=False)
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step_00000002", "step_00000003", "step_00000004"]  # 3 ends the ODE phase


def test_bfloat16_autocast_and_bf16_frozen_roles_run_every_phase(teacher_dir, tmp_path):
    """The precision path of scripts/gpu_check.sh, on the CPU: losses under bf16 autocast, the teacher
    and EMA in bf16, every phase of pose-test finite."""
    run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "run", overrides=["train.precision=bfloat16", "model.dtype=bfloat16"], progress=False)
    losses = {tag: list(v.values()) for tag, v in logged(tmp_path / "run").items() if tag.endswith("/loss")}
    assert {"student/loss", "fake_score/loss", "disc_head/loss"} <= set(losses)
    assert all(math.isfinite(x) for values in losses.values() for x in values)


def test_a_device_this_machine_lacks_is_named(teacher_dir, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(UserError, match="no CUDA device: use parallel.device=cpu"):
        run(preset="pose-test", teacher=teacher_dir, out=tmp_path / "run", overrides=["parallel.device=cuda"], progress=False)
