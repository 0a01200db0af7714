"""`onestep bench`: rows for the model and the teacher at 100, 4 and 1 NFE, and the speedup ratios."""

import json

from typer.testing import CliRunner

from onestep.cli import app
from onestep.models.io import save_model
from tests.tiny import tiny_teacher


def test_bench_json(tmp_path):
    save_model(
        tmp_path / "teacher",
        tiny_teacher(),
        {"role": "teacher", "sampling": {"kind": "euler", "steps": 50, "guidance": 3.0, "shift": 3.0}},
    )
    save_model(
        tmp_path / "student",
        tiny_teacher(),
        {"role": "student", "sampling": {"kind": "renoise", "steps": 1, "shift": 3.0}},
    )
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "--model",
            str(tmp_path / "student"),
            "--teacher",
            str(tmp_path / "teacher"),
            "--repeats",
            "1",
            "--min-seconds",
            "0",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    nfes = sorted({(r["role"], r["nfe"]) for r in out["rows"]})
    assert nfes == [("student", 1), ("teacher", 1), ("teacher", 4), ("teacher", 100)]
    assert {r["batch"] for r in out["rows"]} == {1, 8}
    # the ratios are the rows' own (timing targets live in benchmarks/, not here)
    row = lambda role, nfe, cfg: next(
        r for r in out["rows"] if (r["role"], r["nfe"], r["batch"], r.get("cfg", cfg)) == (role, nfe, 1, cfg)
    )  # noqa: E731
    own, ref, batched = (
        row("student", 1, "two forwards"),
        row("teacher", 100, "two forwards"),
        row("teacher", 100, "batched"),
    )
    assert (
        out["speedup_rows"] == ref["denoise_s"] / own["denoise_s"]
        and out["speedup_cfg_batched"] == batched["denoise_s"] / own["denoise_s"]
    )
    assert all(out[k] > 0 for k in ("speedup", "speedup_end_to_end"))
    top = [r for r in out["rows"] if r["role"] == "teacher" and r["nfe"] == 100 and r["batch"] == 1]
    assert (
        sorted(r["cfg"] for r in top) == ["batched", "two forwards"]
        and out["reference"]["teacher_cfg"] == "two forwards"
    )


def test_cfg_as_two_forwards_equals_batched():
    import torch

    from onestep import samplers
    from onestep.types import Cond

    net = tiny_teacher()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 32, 32, generator=g)
    cond = Cond(
        torch.randn(2, 5, 384, generator=g), torch.ones(2, 5), torch.randn(2, 3, 32, 32, generator=g)
    ).with_negative(torch.zeros(1, 5, 384), torch.ones(1, 5))
    a, b = (samplers.euler(net, x, cond, steps=2, guidance=3.0, cfg_batched=flag) for flag in (True, False))
    assert torch.allclose(a, b, atol=1e-5)


def test_interleaved_ratio_alternates_and_takes_medians():
    from onestep.eval.latency import interleaved_ratio

    calls = []

    def runner(name, seconds):
        def run(i):
            calls.append(name)
            return seconds, 2 * seconds

        return run

    out = interleaved_ratio(runner("slow", 1.0), runner("fast", 0.01), rounds=3, fast_seconds=0.03)
    assert out["speedup"] == 100.0 and out["speedup_end_to_end"] == 100.0
    # warm-up of both, then per round one slow run followed by fast runs filling 0.03 s
    assert calls[:2] == ["slow", "fast"] and calls[2] == "slow" and calls[3:6] == ["fast"] * 3 and calls[6] == "slow"
