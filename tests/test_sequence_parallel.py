"""Sequence parallelism (parallel.sp=2, Ulysses attention): two processes share every sample, each
running the blocks on half the tokens, and make the updates of one process; what it cannot split is
refused. Apart from tests/test_parallel.py so that `make test`'s workers share the 2-process runs."""

import pytest
import torch
from safetensors.torch import load_file

from onestep.commands import distill
from onestep.errors import UserError
from tests.test_parallel import SETTINGS, scalars, separated, teacher, torchrun  # noqa: F401

pytestmark = pytest.mark.processes


def test_sequence_parallel_training_makes_the_updates_of_one_process(teacher, tmp_path):
    """parallel.sp=2: both processes share every sample, each running its blocks on half the tokens
    (Ulysses attention); the run equals one process with the same batch in one chunk. ST-R1 is off:
    its finite difference divides by sigma_s^2 = 1e-4 and turns the attention's other summation order
    (float noise of 1e-7) into head logits 1e-3 apart; with it on the weights still agree to 1e-5."""
    no_r1 = "equilibrium.method.r1_weight=0"
    distill.run(preset="pose-test", teacher=teacher, out=tmp_path / "one", overrides=SETTINGS + [no_r1], progress=False)
    torchrun(teacher, tmp_path / "sp", "--set", "parallel.sp=2", "--set", no_r1)
    a, b = (
        load_file(tmp_path / "one" / "student" / "model.safetensors"),
        load_file(tmp_path / "sp" / "student" / "model.safetensors"),
    )
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    x, y = scalars(tmp_path / "one"), scalars(tmp_path / "sp")
    for tag in x:
        torch.testing.assert_close(torch.tensor(y[tag]), torch.tensor(x[tag]), rtol=1e-3, atol=1e-5, msg=tag)


@pytest.mark.parametrize("task", ["t2v", "i2v"])
def test_wan_sequence_parallel_training_makes_the_updates_of_one_process(task, tmp_path):
    """parallel.sp=2 on a tiny random Wan: each process runs every block on 6 of the 12 tokens, with
    diffusers' Ulysses attention for self-attention; POSE's phases I and II (ST-R1 off, as above)
    equal one process's run on the same batch."""
    from onestep.models import wan_tiny
    from onestep.models.io import weights_hash
    from tests.test_cache import write_cache

    i2v = task == "i2v"
    wan = wan_tiny.build(tmp_path / "wan", i2v=i2v)
    cache = write_cache(
        tmp_path / "cache",
        i2v=i2v,
        teacher_hash=weights_hash(wan),
        text_dim=wan_tiny.TEXT_ENCODER["d_model"],
        image_dim=wan_tiny.IMAGE_ENCODER["hidden_size"],
    )
    settings = ["equilibrium.method.r1_weight=0", "priming.lr=1e-3", "equilibrium.lr=1e-3"]
    distill.run(
        preset="pose-wan-tiny", teacher=wan, data=cache, out=tmp_path / "one", overrides=settings, progress=False
    )
    torchrun(wan, tmp_path / "sp", "--data", str(cache), preset="pose-wan-tiny", settings=[*settings, "parallel.sp=2"])
    from onestep.models.io import load_model

    a, b = (load_model(tmp_path / r / "student")[0].state_dict() for r in ("one", "sp"))
    start = load_model(wan, latent_size=(3, 4, 4))[0].state_dict()
    assert max((a[k] - start[k]).abs().max().item() for k in a) > 1e-4
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    x, y = (separated(scalars(tmp_path / r)) for r in ("one", "sp"))
    for tag in x:
        torch.testing.assert_close(torch.tensor(y[tag]), torch.tensor(x[tag]), rtol=1e-3, atol=1e-5, msg=tag)


def test_sequence_parallelism_refuses_what_it_cannot_split(teacher, tmp_path):
    from onestep.parallel import sequence
    from tests.tiny import tiny_teacher

    with pytest.raises(UserError, match="must divide the model's 2 heads and 256 tokens"):
        sequence.apply(tiny_teacher(), None, 3, 0)
    with pytest.raises(UserError, match="launch with torchrun"):
        distill.run(
            preset="pose-test",
            teacher=teacher,
            out=tmp_path / "r",
            overrides=SETTINGS + ["parallel.sp=2"],
            progress=False,
        )
