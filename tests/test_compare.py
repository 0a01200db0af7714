"""`onestep compare`: the budget split over phases, the fairness check, and the whole command on the
tiny teacher (train, evaluate, table), which resumes without retraining or re-evaluating."""

import json

import pytest
import torch
from typer.testing import CliRunner

from onestep import paths
from onestep.cli import app
from onestep.commands import compare, distill
from onestep.configs.presets import PRESETS
from onestep.errors import UserError
from tests.test_eval import small_anchors  # noqa: F401 (autouse: small anchors, bootstrap and a private cache)
from tests.tiny import tiny_teacher_dir

runner = CliRunner()


def test_the_budget_is_split_over_the_phases_in_proportion():
    assert compare.scaled_steps(PRESETS["pose-paper"]().phases, 300) == {"priming": 107, "equilibrium": 193}
    assert compare.scaled_steps(PRESETS["pose-prime-none"]().phases, 300) == {"priming": 0, "equilibrium": 300}
    for preset in PRESETS:
        assert sum(compare.scaled_steps(PRESETS[preset]().phases, 97).values()) == 97
    with pytest.raises(UserError, match="--budget 1 is fewer steps than the 2 phases"):
        compare.scaled_steps(PRESETS["apt"]().phases, 1)


def test_presets_that_train_on_other_data_are_refused():
    rows = {p: compare.record(p, paths.TEACHER, 10, 1, "hash") for p in ("pose-paper", "pose-demo")}
    with pytest.raises(UserError, match="preset pose-demo trains with tracks"):
        compare.check_fair(rows)
    compare.check_fair(
        {p: compare.record(p, paths.TEACHER, 10, 1, "hash") for p in ("pose-paper", "dmd2", "add", "apt", "lcm", "pcm")}
    )


@pytest.fixture
def small_eval(small_anchors, monkeypatch):  # noqa: F811
    """test_eval's small anchors and bootstrap, and the teacher at 1 and 4 NFE only."""
    monkeypatch.setattr(compare, "TEACHER_NFE", (1, 4))


def invoke(*args):
    r = runner.invoke(app, [str(a) for a in args])
    return r.exit_code, r.output + (str(r.exception) if r.exception and not isinstance(r.exception, SystemExit) else "")


@pytest.mark.slow  # end to end: two presets trained, evaluated and tabulated (make test-slow)
def test_compare_trains_evaluates_tabulates_and_resumes(small_eval, tmp_path, monkeypatch):
    teacher = tiny_teacher_dir(tmp_path / "teacher")
    out = tmp_path / "cmp"
    args = [
        "compare",
        "lcm",
        "pcm",
        "add",
        "apt",
        "--teacher",
        teacher,
        "--budget",
        2,
        "--n",
        2,
        "--nfe",
        1,
        "--threads",
        1,
        "--out",
        out,
    ]
    torch.manual_seed(0)
    code, text = invoke(*args)
    assert code == 0, text
    state = json.loads((out / "compare.json").read_text())
    rows = state["rows"]
    assert list(rows) == ["lcm", "pcm", "add", "apt"] and rows["apt"]["phases"] == {"consistency": 1, "apt": 1}
    for key in compare.FAIR:
        assert len({json.dumps(r[key]) for r in rows.values()}) == 1, key
    for preset in rows:
        assert json.loads((out / preset / "student" / "config.json").read_text())["trained_steps"] == 2
        assert json.loads((out / preset / "eval-nfe1" / "metrics.json").read_text())["n"] == 2
    table = (out / "compare.md").read_text()
    assert "LCM (`lcm`)" in table and "APT (`apt`)" in table and "teacher (Euler, CFG)" in table and "*4 NFE*" in table
    assert (
        (out / "compare.html").is_file()
        and (out / "compare_nfe.png").is_file()
        and (out / "compare_samples_nfe1.png").is_file()
    )

    stamps = {p: (out / p / "eval-nfe1" / "metrics.json").stat().st_mtime_ns for p in rows}
    monkeypatch.setattr(distill, "run", lambda **kw: pytest.fail(f"retrained {kw['preset']}"))
    code, text = invoke(*args)
    assert code == 0, text
    assert text.count("trained (2 steps), kept") == 4
    assert stamps == {p: (out / p / "eval-nfe1" / "metrics.json").stat().st_mtime_ns for p in rows}
    code, text = invoke(*args[:-4], "--budget", 3, "--out", out)
    assert code != 0 and "another budget" in text
