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
    assert ckpts == [
        f"step_{s:08d}" for s in (3, 4, 6, 8, 9)
    ]  # every 2 steps, the newest 2 of those, and each phase's end
    assert (
        len(list((tmp_path / "run" / "ode_pairs").glob("chunk_*.safetensors"))) == 2
    )  # 4 pairs, batch 2, a batch a chunk
    # the student moved away from the teacher
    t = load_model(teacher_dir)[0].state_dict()
    assert any(not torch.equal(t[k], v) for k, v in model.state_dict().items())
    # every loss, gradient norm and metric of every step, as recorded (scripts/record_golden.py)
    now = logged(tmp_path / "run")
    golden = json.loads(GOLDEN.read_text())["pose-test"]
    compared, off = 0, []
    for tag, values in golden.items():
        scale = max(
            abs(v) for v in values.values()
        )  # a value near 0 in a series of O(scale) is held to the series' scale
        for step, value in values.items():
            if now[tag][step] != pytest.approx(value, rel=1e-4, abs=1e-4 * scale + 1e-7):
                off.append(f"{tag} at step {step}: {now[tag][step]} (recorded {value})")
            compared += 1
    assert not off, "; ".join(off)
    assert compared >= 64
    # the discriminator's held-out accuracy, read at every log step of phase II (the phase with one)
    readings = json.loads((tmp_path / "run" / "summary.json").read_text())["discriminator"]
    assert list(readings) == ["equilibrium"]
    acc = readings["equilibrium"]["disc/accuracy"]
    assert sorted(map(int, acc["steps"])) == list(range(7, 10)) and all(0.0 <= v <= 1.0 for v in acc["steps"].values())
    assert acc["mean"] == pytest.approx(sum(acc["steps"].values()) / 3) and set(now["disc/accuracy"]) == {"7", "8", "9"}


def test_a_phase_of_zero_steps_is_skipped_and_pairs_are_made_only_when_read(teacher_dir, tmp_path):
    run(
        preset="pose-test",
        teacher=teacher_dir,
        out=tmp_path / "anchored",
        overrides=["ode.steps=0"],
        max_steps=1,
        progress=False,
    )
    assert (
        len(list((tmp_path / "anchored" / "ode_pairs").glob("chunk_*"))) == 2
    )  # the anchors of later phases read them
    run(
        preset="pose-test",
        teacher=teacher_dir,
        out=tmp_path / "run",
        overrides=["ode.steps=0", "priming.method.ode_weight=0", "equilibrium.method.ode_weight=0"],
        max_steps=1,
        progress=False,
    )
    assert not (tmp_path / "run" / "ode_pairs").exists()
    assert [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()] == ["step_00000001"]


def test_pairs_made_once_are_read_by_a_run_and_refused_when_they_do_not_fit(teacher_dir, tmp_path):
    folder = pairs(teacher=teacher_dir, out=tmp_path / "pairs", preset="pose-test", overrides=[], progress=False)
    made = sorted(p.stat().st_mtime_ns for p in folder.glob("chunk_*"))
    run(
        preset="pose-test",
        teacher=teacher_dir,
        out=tmp_path / "run",
        overrides=[f"data.pairs.path={folder}"],
        max_steps=1,
        progress=False,
    )
    assert (
        not (tmp_path / "run" / "ode_pairs").exists()
        and sorted(p.stat().st_mtime_ns for p in folder.glob("chunk_*")) == made
    )
    with pytest.raises(UserError, match="teacher_steps 2 .this run: 3."):
        run(
            preset="pose-test",
            teacher=teacher_dir,
            out=tmp_path / "other",
            overrides=[f"data.pairs.path={folder}", "data.pairs.teacher_steps=3"],
            max_steps=1,
            progress=False,
        )
    with pytest.raises(UserError, match="did you mean train.checkpoint_every"):
        run(
            preset="pose-test",
            teacher=teacher_dir,
            out=tmp_path / "flat",
            overrides=["checkpoint_every=1"],
            max_steps=1,
            progress=False,
        )


def test_resume_after_sigkill_matches_an_uninterrupted_run(teacher_dir, tmp_path):
    sets = ["--set", "train.checkpoint_every=1"]
    run(
        preset="pose-test",
        teacher=teacher_dir,
        out=tmp_path / "straight",
        overrides=["train.checkpoint_every=1"],
        progress=False,
    )
    kill_after = random.Random(os.getpid()).randint(1, 8)  # any step, any phase
    cmd = [
        sys.executable,
        "-m",
        "onestep.cli",
        "distill",
        "pose-test",
        "--teacher",
        str(teacher_dir),
        "--out",
        str(tmp_path / "killed"),
        *sets,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = tmp_path / "killed" / "checkpoints" / f"step_{kill_after:08d}"
    deadline = time.time() + 300
    while not target.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / "student").exists() or kill_after == 9
    run(
        preset="pose-test",
        teacher=teacher_dir,
        out=tmp_path / "killed",
        overrides=["train.checkpoint_every=1"],
        progress=False,
    )
    a, b = weights(tmp_path / "straight" / "student"), weights(tmp_path / "killed" / "student")
    assert all(torch.equal(a[k], b[k]) for k in a), f"resume after a kill at step {kill_after} differs"


def flip_a_byte(step):
    shard = sorted(step.glob("*.distcp"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))


def truncate(step):
    shard = sorted(step.glob("*.distcp"))[0]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])


DAMAGE = {
    "a flipped byte": (flip_a_byte, "does not match its checksum"),
    "a truncated shard": (truncate, "does not match its checksum"),
    "a deleted shard": (lambda step: sorted(step.glob("*.distcp"))[0].unlink(), "is missing"),
    "a deleted .metadata": (lambda step: (step / ".metadata").unlink(), ".metadata is missing"),
    "a corrupt meta.json": (lambda step: (step / "meta.json").write_text("{"), "meta.json does not parse"),
}


@pytest.fixture(scope="module")
def straight(teacher_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    run(preset="pose-test", teacher=teacher_dir, out=out, overrides=[], progress=False)
    return out


@pytest.fixture(scope="module")
def stopped(teacher_dir, tmp_path_factory):
    """pose-test stopped after 6 of its 9 steps: checkpoints 2 and 4, and the phase ends 3 and 6 (kept)."""
    out = tmp_path_factory.mktemp("stopped") / "run"
    run(preset="pose-test", teacher=teacher_dir, out=out, overrides=[], max_steps=6, progress=False)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "step_00000002",
        "step_00000003",
        "step_00000004",
        "step_00000006",
    ]
    return out


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_newest_checkpoint_resumes_from_the_one_before(
    kind, teacher_dir, straight, stopped, tmp_path, capsys
):
    import shutil

    damage, words = DAMAGE[kind]
    out = tmp_path / "run"
    shutil.copytree(stopped, out)
    damage(out / "checkpoints" / "step_00000006")
    run(preset="pose-test", teacher=teacher_dir, out=out, overrides=[], progress=False)
    said = capsys.readouterr().err
    assert "step_00000006" in said and words in said and "resuming from" in said and "step_00000004" in said, said
    a, b = weights(straight / "student"), weights(out / "student")
    assert all(torch.equal(a[k], b[k]) for k in a), f"resume past {kind} differs from the uninterrupted run"


def test_every_checkpoint_damaged_is_one_line_naming_the_fix(teacher_dir, stopped, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(stopped, out)
    for step in (out / "checkpoints").iterdir():
        flip_a_byte(step)
    with pytest.raises(UserError, match="every checkpoint in .* is damaged .*delete"):
        run(preset="pose-test", teacher=teacher_dir, out=out, overrides=[], progress=False)


def test_a_second_run_on_a_held_folder_exits_naming_the_holder(teacher_dir, tmp_path):
    """Two `onestep distill` on one --out: the second says who holds it and exits 2, touching nothing;
    the holder killed with SIGKILL leaves no stale lock (the system drops it), so the run resumes."""
    out, longer = tmp_path / "run", ["--set", "equilibrium.steps=1000"]
    cmd = [
        sys.executable,
        "-m",
        "onestep.cli",
        "distill",
        "pose-test",
        "--teacher",
        str(teacher_dir),
        "--out",
        str(out),
        *longer,
    ]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock, deadline = out / ".lock", time.time() + 120
    while not (lock.is_file() and "pid" in lock.read_text()) and time.time() < deadline:
        time.sleep(0.05)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    still = first.poll() is None
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert still, "the first run ended before the second was tried"
    assert (
        second.returncode == 2 and f"pid {first.pid} " in second.stderr and "onestep distill pose-test" in second.stderr
    ), second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    run(
        preset="pose-test",
        teacher=teacher_dir,
        out=out,
        overrides=["equilibrium.steps=1000"],
        max_steps=1,
        progress=False,
    )


def test_sigterm_finishes_the_step_writes_a_checkpoint_and_says_how_to_resume(teacher_dir, tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "onestep.cli",
        "distill",
        "pose-test",
        "--teacher",
        str(teacher_dir),
        "--out",
        str(out),
        "--set",
        "equilibrium.steps=1000",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (out / "checkpoints" / "step_00000004").is_dir() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=300)[1]
    lines = [line for line in err.splitlines() if line.strip()]
    assert (
        proc.returncode == 2
        and len(lines) == 1
        and "stopped by SIGTERM after step" in lines[0]
        and "run the same command to resume" in lines[0]
    ), err
    step = int(lines[0].split("after step ")[1].split()[0])
    assert (out / "checkpoints" / f"step_{step:08d}" / "meta.json").is_file()
    run(
        preset="pose-test",
        teacher=teacher_dir,
        out=out,
        overrides=["equilibrium.steps=1000"],
        max_steps=1,
        progress=False,
    )
    assert (out / "checkpoints" / f"step_{step + 1:08d}").is_dir()


def test_resume_knows_its_teacher_by_its_weights_not_its_path(teacher_dir, tmp_path):
    import shutil

    out, copy = tmp_path / "run", tmp_path / "teacher"
    shutil.copytree(teacher_dir, copy)
    run(preset="pose-test", teacher=copy, out=out, overrides=[], max_steps=2, progress=False)
    (tmp_path / "link").symlink_to(copy)
    run(
        preset="pose-test", teacher=tmp_path / "link", out=out, overrides=[], max_steps=1, progress=False
    )  # the same teacher, another path
    weights = load_model(copy)[0]
    with torch.no_grad():
        next(weights.parameters()).add_(1.0)
    from onestep.models.io import save_model

    save_model(copy, weights, json.loads((copy / "config.json").read_text()))  # replaced in place
    with pytest.raises(UserError, match="is not the one .* started from"):
        run(preset="pose-test", teacher=copy, out=out, overrides=[], progress=False)


def test_a_damaged_pairs_chunk_is_one_line_and_remade_by_the_next_run(teacher_dir, tmp_path):
    from onestep.data import pairs as ode_pairs

    folder = pairs(teacher=teacher_dir, out=tmp_path / "pairs", preset="pose-test", overrides=[], progress=False)
    chunk = sorted(folder.glob("chunk_*.safetensors"))[0]
    good = chunk.read_bytes()
    chunk.write_bytes(good[: len(good) // 2])
    with pytest.raises(UserError, match="is damaged .* remakes it"):
        ode_pairs.load(folder, 4)
    pairs(teacher=teacher_dir, out=folder, preset="pose-test", overrides=[], progress=False)
    assert chunk.read_bytes() == good  # made again, the same pairs


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
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == [
        "step_00000002",
        "step_00000003",
        "step_00000004",
    ]  # 3 ends the ODE phase
    monkeypatch.setattr(VSD, "fake_score_loss", original)
    # the way out the message names: resume with another learning rate or clip, recorded in the history
    run(
        preset="pose-test",
        teacher=teacher_dir,
        out=tmp_path / "run",
        overrides=["priming.critic_lr=5e-6", "priming.grad_clip=0.5"],
        max_steps=1,
        progress=False,
    )
    history = [json.loads(line) for line in (tmp_path / "run" / "config-history.jsonl").read_text().splitlines()]
    assert history[-1]["changed"] == {"priming.critic_lr": [1e-5, 5e-6], "priming.grad_clip": [1.0, 0.5]}
    with pytest.raises(UserError, match="another config: priming.method.lora_rank"):
        run(
            preset="pose-test",
            teacher=teacher_dir,
            out=tmp_path / "run",
            overrides=["priming.method.lora_rank=8"],
            progress=False,
        )


def test_bfloat16_autocast_and_bf16_frozen_roles_run_every_phase(teacher_dir, tmp_path):
    """The precision path of scripts/gpu_check.sh, on the CPU: losses under bf16 autocast, the teacher
    and EMA in bf16, every phase of pose-test finite."""
    run(
        preset="pose-test",
        teacher=teacher_dir,
        out=tmp_path / "run",
        overrides=["train.precision=bfloat16", "model.dtype=bfloat16"],
        progress=False,
    )
    losses = {tag: list(v.values()) for tag, v in logged(tmp_path / "run").items() if tag.endswith("/loss")}
    assert {"student/loss", "fake_score/loss", "disc_head/loss"} <= set(losses)
    assert all(math.isfinite(x) for values in losses.values() for x in values)


def test_a_device_this_machine_lacks_is_named(teacher_dir, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(UserError, match="no CUDA device: use parallel.device=cpu"):
        run(
            preset="pose-test",
            teacher=teacher_dir,
            out=tmp_path / "run",
            overrides=["parallel.device=cuda"],
            progress=False,
        )
