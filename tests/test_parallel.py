"""Two processes (torchrun, gloo, FSDP2 per role), with or without micro-batches, make the updates of
one process with the same global batch in one piece; a checkpoint they write resumes in one process;
a batch the processes and micro-batches do not divide is refused."""

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from onestep import seeding
from onestep.commands import distill
from onestep.errors import UserError
from tests.tiny import tiny_teacher_dir

pytestmark = pytest.mark.processes

# pose-test's phases I and II without the ODE pairs, at a learning rate that moves the weights
SETTINGS = [
    "ode.steps=0", "priming.method.ode_weight=0", "equilibrium.method.ode_weight=0", "data.batch_size=4",
    "priming.lr=1e-3", "priming.critic_lr=1e-3", "equilibrium.lr=1e-3", "equilibrium.critic_lr=1e-3",
]  # fmt: skip


def torchrun_args(teacher, out, *extra, preset: str = "pose-test", settings=SETTINGS) -> list[str]:
    """`onestep distill` on two processes (torchrun, gloo); `extra` more arguments (--set, --data)."""
    args = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone"]
    args += ["-m", "onestep", "distill", preset, "--teacher", str(teacher), "--out", str(out)]
    return args + [a for s in settings for a in ("--set", s)] + list(extra)


ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def torchrun(teacher, out, *extra, **kwargs):
    args = torchrun_args(teacher, out, *extra, **kwargs)
    result = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def scalars(run) -> dict[str, list[float]]:
    ea = EventAccumulator(str(run / "logs"))
    ea.Reload()
    return {tag: [e.value for e in ea.Scalars(tag)] for tag in ea.Tags()["scalars"] if tag != "train/steps_per_s"}


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return tiny_teacher_dir(tmp_path_factory.mktemp("teacher") / "teacher")


@pytest.fixture(scope="module")
def one_process(teacher, tmp_path_factory):
    """One process, the global batch of 4 in one piece."""
    out = tmp_path_factory.mktemp("one") / "run"
    distill.run(preset="pose-test", teacher=teacher, out=out, overrides=SETTINGS, progress=False)
    return out


def assert_same_run(ours, theirs, teacher) -> None:
    """The same final weights (float reduction order alone) and the same logged trajectory."""
    a, b = load_file(ours / "student" / "model.safetensors"), load_file(theirs / "student" / "model.safetensors")
    start = load_file(teacher / "model.safetensors")
    moved = max((b[k] - start[k]).abs().max().item() for k in b)
    differ = max((a[k] - b[k]).abs().max().item() for k in b)
    assert moved > 1e-3 and differ < 1e-5, (moved, differ)
    x, y = (separated(scalars(run)) for run in (theirs, ours))
    assert set(x) == set(y)
    for tag in x:
        torch.testing.assert_close(torch.tensor(y[tag]), torch.tensor(x[tag]), rtol=1e-3, atol=1e-5, msg=tag)


def separated(logs: dict[str, list[float]]) -> dict[str, list[float]]:
    """The logs with the head's mean logits as their difference: under the hinge (both sides in its
    linear part) the head's output bias has a gradient of exactly 0, which Adam turns from float noise
    of 1e-9 into a step of its learning rate, so every logit (d_real, d_fake and the generator's
    g_adv = -D(fake)) shifts by the same ~1e-3 between summation orders, while d_real - d_fake, the
    hinge, every other loss, every gradient norm and the student agree."""
    out = {k: v for k, v in logs.items() if k not in ("pose/d_real", "pose/d_fake", "pose/g_adv")}
    if "pose/d_real" in logs:
        out["pose/d_real-d_fake"] = [r - f for r, f in zip(logs["pose/d_real"], logs["pose/d_fake"])]
    return out


def test_two_processes_make_the_updates_of_one(teacher, one_process, tmp_path):
    torchrun(teacher, tmp_path / "two")
    assert_same_run(tmp_path / "two", one_process, teacher)


def test_two_processes_of_two_micro_batches_make_the_updates_of_one_batch(teacher, one_process, tmp_path):
    """Gradient accumulation 2 x 2 (processes x micro-batches of 1) against the batch of 4 in one piece."""
    torchrun(teacher, tmp_path / "two", "--set", "train.accum=2")
    assert_same_run(tmp_path / "two", one_process, teacher)


def test_micro_batches_make_the_updates_of_one_batch(teacher, one_process, tmp_path):
    """One process, the batch of 4 in 2 micro-batches of 2."""
    distill.run(
        preset="pose-test",
        teacher=teacher,
        out=tmp_path / "accum",
        overrides=SETTINGS + ["train.accum=2"],
        progress=False,
    )
    assert_same_run(tmp_path / "accum", one_process, teacher)


def test_a_checkpoint_of_two_processes_resumes_in_one(teacher, one_process, tmp_path):
    torchrun(teacher, tmp_path / "run", "--max-steps", "4")
    meta = json.loads((tmp_path / "run" / "checkpoints" / "step_00000004" / "meta.json").read_text())
    assert meta["step"] == 4
    distill.run(preset="pose-test", teacher=teacher, out=tmp_path / "run", overrides=SETTINGS, progress=False)
    ours, theirs = (
        load_file(tmp_path / "run" / "student" / "model.safetensors"),
        load_file(one_process / "student" / "model.safetensors"),
    )
    assert max((ours[k] - theirs[k]).abs().max().item() for k in theirs) < 1e-5


def test_a_batch_the_chunks_do_not_divide_is_refused(teacher, tmp_path):
    with pytest.raises(UserError, match="does not split into 1 processes x 3 micro-batches: use a multiple of 3"):
        distill.run(
            preset="pose-test",
            teacher=teacher,
            out=tmp_path / "r",
            overrides=SETTINGS + ["train.accum=3"],
            progress=False,
        )


def test_resuming_with_another_preset_or_setting_names_the_fields(teacher, one_process):
    with pytest.raises(UserError, match=r"equilibrium.ema_decay \(0.995 there, 0.99 now\)"):
        distill.run(
            preset="pose-test",
            teacher=teacher,
            out=one_process,
            overrides=SETTINGS + ["equilibrium.ema_decay=0.99"],
            progress=False,
        )
    with pytest.raises(UserError, match=r"preset \('pose-test' there, 'pose-tiny' now\)"):
        distill.run(preset="pose-tiny", teacher=teacher, out=one_process, overrides=[], progress=False)


def test_activation_checkpointing_changes_no_number(teacher, tmp_path):
    """Each block recomputed in the backward: the same losses, gradients and weights as without."""
    plain, ac = tmp_path / "plain", tmp_path / "ac"
    distill.run(preset="pose-test", teacher=teacher, out=plain, overrides=SETTINGS, progress=False)
    distill.run(
        preset="pose-test",
        teacher=teacher,
        out=ac,
        overrides=SETTINGS + ["parallel.activation_checkpointing=true"],
        progress=False,
    )
    a, b = scalars(plain), scalars(ac)
    for tag in a:
        torch.testing.assert_close(torch.tensor(b[tag]), torch.tensor(a[tag]), rtol=1e-5, atol=1e-7, msg=tag)
    x, y = load_file(plain / "student" / "model.safetensors"), load_file(ac / "student" / "model.safetensors")
    assert max((x[k] - y[k]).abs().max().item() for k in x) < 1e-6


def test_plan_counts_what_training_holds(teacher, tmp_path):
    """`onestep plan`'s trained-role figures against the tensors a real phase II holds after a step
    (tests/ tiny DiT, one process): parameters, gradients, Adam's moments and the EMA, within 20%."""
    from onestep import methods
    from onestep.commands.plan import plan
    from onestep.configs.distill import DistillConfig, PhaseConfig
    from onestep.methods.pose import PoseConfig
    from onestep.train.memory import trainable_state_bytes
    from onestep.train.roles import build_roles
    from onestep.train.trainer import Trainer

    settings = ["ode.steps=0", "priming.steps=0", "equilibrium.method.ode_weight=0"]
    _, figures = plan("pose-test", 1, teacher=teacher, overrides=settings)
    phase = PhaseConfig("equilibrium", PoseConfig(head_dim=32, queries=2), steps=1)
    roles = build_roles(teacher, [methods.build(phase.method)], seed=0, device=torch.device("cpu"))
    trainer = Trainer(DistillConfig(phases=[phase]), roles, tmp_path, None, progress=False)
    trainer.enter_phase(0, fresh=True)
    for group, opt in trainer.optimizers.items():  # Adam's moments exist after a step
        for p in trainer.groups[group]:
            p.grad = torch.zeros_like(p)
        opt.step()
    held = trainable_state_bytes(trainer.groups, trainer.optimizers, roles.ema)
    planned = figures["roles"]["student"] + figures["roles"]["ema"] + figures["roles"]["disc_head"]
    assert abs(planned - held["total"]) <= 0.2 * held["total"], (planned, held)
    # activations: what a real generator step of the same batch keeps for its backward, counted on the
    # real tensors with the student's gradients open, against plan's count on the meta device
    from onestep.configs.presets import preset
    from onestep.parallel.activations import Held, example_inputs
    from onestep.types import Batch

    x, _, cond = example_inputs(roles.student, preset("pose-test").data.batch_size, "cpu", torch.float32)
    batch = Batch(torch.randn_like(x), cond.with_negative(torch.zeros_like(cond.text[:1]), cond.text_mask[:1]))
    trainer.only("student")
    with Held(list(roles.present().values())).active() as step:
        trainer.methods[0].student_loss(batch, roles, seeding.Draws(0, 0, 1))
    assert abs(figures["activations"][False] - step.total) <= 0.2 * step.total, (figures["activations"], step.total)
    lines, big = plan("pose-wan-i2v-14b", 8, gpu_mem=96)
    assert big["roles"]["student"] == 16 * 16_394_878_784 and "does not fit" in lines[-1]


@pytest.mark.slow  # three 2-process runs; one-process kills and 2-to-1 resumes stay in make test (make test-slow)
def test_a_process_killed_mid_run_resumes_to_the_uninterrupted_weights(teacher, tmp_path):
    """SIGKILL one of two processes once a checkpoint exists; torchrun ends the other; the same command
    resumes from the last checkpoint to the weights of a run never interrupted."""
    import signal
    import time

    import psutil

    longer = ("--set", "equilibrium.steps=16")
    torchrun(teacher, tmp_path / "whole", *longer)
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        torchrun_args(teacher, out, *longer), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
    )
    deadline = time.time() + 300
    while not (out / "checkpoints" / "step_00000006").is_dir() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    workers = [p for p in psutil.Process(proc.pid).children(recursive=True) if "onestep" in " ".join(p.cmdline())]
    assert proc.poll() is None and workers, "the run ended before it could be killed"
    os.kill(workers[-1].pid, signal.SIGKILL)
    proc.wait(timeout=120)
    assert proc.returncode != 0 and not (out / "student").exists()
    torchrun(teacher, out, *longer)
    a, b = (
        load_file(tmp_path / "whole" / "student" / "model.safetensors"),
        load_file(out / "student" / "model.safetensors"),
    )
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6


def test_two_processes_in_bfloat16_train(teacher, tmp_path):
    """train.precision=bfloat16 with two processes: FSDP2's mixed precision (bf16 compute, fp32
    gradient reduction) on the trained roles; the run finishes with finite weights that moved."""
    torchrun(teacher, tmp_path / "bf16", "--set", "train.precision=bfloat16", "--set", "model.dtype=bfloat16")
    a, start = load_file(tmp_path / "bf16" / "student" / "model.safetensors"), load_file(teacher / "model.safetensors")
    assert (
        all(torch.isfinite(v).all() for v in a.values()) and max((a[k] - start[k]).abs().max().item() for k in a) > 1e-3
    )
