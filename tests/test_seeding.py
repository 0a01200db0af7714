"""Each batch row draws its own noise: a loss's draws are keyed by (run seed, step, row, stream), so
any split of a global batch over processes and micro-batches draws the same numbers; the trainer
reads its rank from torch.distributed (a two-process gloo group and a run that believes it is rank 1)."""

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file

from onestep import seeding
from onestep.commands.distill import run
from onestep.train import trainer
from tests.tiny import tiny_teacher_dir


def _draws(d: seeding.Draws, n: int) -> list[torch.Tensor]:
    """A loss's typical sequence of draws over n rows: times, noise, an index."""
    return [d.rand(n), d.randn(n, 3, 2, dtype=torch.float64), d.randint(7, n), d.randn(n, 2, 1, 1)]


def test_any_split_of_the_batch_draws_the_rows_of_the_whole():
    whole = _draws(seeding.streams(0, 5)(), 6)
    for split in ([3, 3], [2, 2, 2], [1] * 6, [4, 2]):
        parts, first = [], 0
        for n in split:
            parts.append(_draws(seeding.streams(0, 5, first_row=first)(), n))
            first += n
        for k, w in enumerate(whole):
            assert torch.equal(torch.cat([p[k] for p in parts]), w)
    rng = seeding.streams(0, 5)
    assert not torch.equal(rng().randn(6), rng().randn(6))  # stream 1 is not stream 0
    assert not torch.equal(seeding.streams(0, 6)().randn(6), seeding.streams(0, 5)().randn(6))  # nor step 6 step 5
    assert len(set(whole[1][:, 0, 0].tolist())) == 6  # each row its own generator


def _rank(rank: int, world: int, init: str, out) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        out[rank] = (trainer.process_rank(), trainer.world_size())
    finally:
        dist.destroy_process_group()


def test_the_trainer_reads_rank_and_world_size_from_the_process_group(tmp_path):
    out = mp.Manager().dict()
    mp.spawn(_rank, args=(2, f"file://{tmp_path / 'rendezvous'}", out), nprocs=2)
    assert [out[r] for r in (0, 1)] == [(0, 2), (1, 2)]
    assert (trainer.process_rank(), trainer.world_size()) == (0, 1)  # no group here


def test_the_trainer_draws_with_its_process_rank(tmp_path, monkeypatch):
    teacher = tiny_teacher_dir(tmp_path / "teacher")
    steps = lambda out: run(
        preset="pose-test",
        teacher=teacher,
        out=tmp_path / out,
        overrides=["ode.steps=0", "priming.method.ode_weight=0", "equilibrium.method.ode_weight=0"],
        max_steps=1,
        progress=False,
    )  # noqa: E731
    steps("rank0")
    monkeypatch.setattr(trainer, "process_rank", lambda: 1)
    steps("rank1")
    a, b = (load_file(tmp_path / r / "student" / "model.safetensors") for r in ("rank0", "rank1"))
    assert any(
        not torch.equal(a[k], b[k]) for k in a
    )  # the same batch, other noise (process 1 draws the rows of chunk 1)
