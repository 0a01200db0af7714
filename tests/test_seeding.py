"""Each process draws its own noise: generators are keyed by (run seed, step, rank, stream), the
trainer reads the rank from torch.distributed and passes it (a two-process gloo group and a run that
believes it is rank 1)."""

import torch
from safetensors.torch import load_file
import torch.distributed as dist
import torch.multiprocessing as mp

from onestep import seeding
from onestep.commands.distill import run
from onestep.train import trainer
from tests.tiny import tiny_teacher_dir


def _draw(rank: int, world: int, init: str, out) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        out[rank] = (trainer.process_rank(), seeding.streams(0, 5, trainer.process_rank())().initial_seed())
    finally:
        dist.destroy_process_group()


def test_each_process_of_a_group_draws_its_own_noise(tmp_path):
    out = mp.Manager().dict()
    mp.spawn(_draw, args=(2, f"file://{tmp_path / 'rendezvous'}", out), nprocs=2)
    assert [out[r][0] for r in (0, 1)] == [0, 1]
    assert out[0][1] != out[1][1]
    assert out[0][1] == seeding.streams(0, 5)().initial_seed()  # rank 0 draws what a single process draws
    assert trainer.process_rank() == 0  # no group here


def test_the_trainer_draws_with_its_process_rank(tmp_path, monkeypatch):
    teacher = tiny_teacher_dir(tmp_path / "teacher")
    steps = lambda out: run(preset="pose-test", teacher=teacher, out=tmp_path / out, overrides=["ode.steps=0", "priming.method.ode_weight=0", "equilibrium.method.ode_weight=0"], max_steps=1, progress=False)  # noqa: E731
    steps("rank0")
    monkeypatch.setattr(trainer, "process_rank", lambda: 1)
    steps("rank1")
    a, b = (load_file(tmp_path / r / "student" / "model.safetensors") for r in ("rank0", "rank1"))
    assert any(not torch.equal(a[k], b[k]) for k in a)  # the same batch, other noise (process 1 draws chunk 1's streams)
