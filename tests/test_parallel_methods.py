"""Every registered method's phase runs on two processes whose rows differ in kind (batch 2: process
0 holds an even row, process 1 an odd one; batch 6 in 3 micro-batches: rows (0, 3), (1, 4), (2, 5))
and makes the updates of one process: under FSDP every process must make the same collectives
whatever its rows hold, or the run hangs (the ODE phase's re-noised term once skipped the student on
a micro-batch without an even row)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.every_method_run import contracts
from tests.tiny import tiny_teacher_dir

pytestmark = pytest.mark.processes

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
WORKER = str(ROOT / "tests" / "every_method_run.py")


def launch(args: list[str], processes: int, timeout: int = 400) -> None:
    """The worker in one process or under torchrun; a hang is killed with its whole process group."""
    head = (
        [sys.executable]
        if processes == 1
        else [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes), "--standalone"]
    )
    proc = subprocess.Popen(
        head + [WORKER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{processes} processes hung past {timeout} s: {' '.join(args)}")
    assert proc.returncode == 0, out[-3000:]


def assert_same_students(ours: Path, theirs: Path, teacher: Path, names) -> None:
    """The students moved (by ~lr) and agree to 2e-5 but for at most 0.1% of entries, none past 1e-4:
    Adam's first steps move an entry by about lr whatever its gradient's size, so an entry whose gradient
    is at float-noise level (the processes sum in another order) moves by noise (`add`: 3.2e-5 on 0.03%
    of the output layer's entries, every other tensor within 6e-6)."""
    start = load_file(teacher / "model.safetensors")
    for name in names:
        a, b = (load_file(run / name / "student" / "model.safetensors") for run in (ours, theirs))
        moved = max((b[k] - start[k]).abs().max().item() for k in start if k in b)
        differ = torch.cat([(a[k] - b[k]).abs().flatten() for k in b])
        off = (differ > 2e-5).float().mean().item()
        assert moved > 1e-3 and off < 1e-3 and differ.max() < 1e-4, (name, moved, differ.max().item(), off)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return tiny_teacher_dir(tmp_path_factory.mktemp("teacher") / "teacher")


def test_every_method_on_two_processes_of_one_row_each_makes_the_updates_of_one(teacher, tmp_path):
    launch([str(teacher), str(tmp_path / "one")], 1)
    launch([str(teacher), str(tmp_path / "two")], 2)
    assert_same_students(tmp_path / "two", tmp_path / "one", teacher, contracts())


def test_micro_batches_whose_rows_differ_in_kind_across_processes_make_the_updates_of_one(teacher, tmp_path):
    split = ["--batch", "6", "--only", "ode"]
    launch([str(teacher), str(tmp_path / "one"), *split], 1)
    launch([str(teacher), str(tmp_path / "two"), *split, "--accum", "3"], 2)
    assert_same_students(tmp_path / "two", tmp_path / "one", teacher, ["ode"])
