"""The bundled models load, and the bundled student is the one its preset makes."""

import json
from pathlib import Path

import torch

from onestep.commands.distill import flatten
from onestep.configs.base import to_dict
from onestep.configs.distill import DistillConfig
from onestep.configs.presets import PRESETS
from onestep.models.io import load_model

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def test_bundled_student_is_its_presets_run():
    """docs/pose.md and README report the student of a named preset: changing that preset means reshipping it."""
    _, config = load_model(ASSETS / "students" / "pose")
    shipped = json.loads((ASSETS / "students" / "pose" / "run-config.json").read_text())
    assert shipped["preset"] == config["preset"] and config["preset"] in PRESETS
    made = PRESETS[config["preset"]]()
    preset = json.loads(json.dumps(to_dict(made), default=str))  # as the trainer writes config.json
    shipped["model"]["teacher"] = ""  # the run's resolved teacher path; the preset leaves it to --teacher
    shipped["data"]["max_text"] = 0  # resolved from the teacher's config.json; the preset leaves it 0
    shipped["data"]["text_encoder"] = ""  # likewise the teacher's text encoder
    shipped["data"]["pairs"]["path"] = (
        ""  # where the run read its pairs (their manifest names the teacher and settings)
    )
    for key in (
        "threads",
        "log_every",
        "checkpoint_every",
        "sample_every",
    ):  # machine and logging settings: the weights do not depend on them
        shipped["train"][key] = preset["train"][key]
    # a field added after the run is absent from its config; the run behaved as the field's default does
    ran, wants = flatten({k: shipped.get(k) for k in preset}), flatten(preset)
    defaults = flatten(json.loads(json.dumps(to_dict(DistillConfig(phases=made.phases)), default=str)))
    added = {k for k in wants.keys() - ran.keys()}
    assert all(wants[k] == defaults[k] for k in added), {k: wants[k] for k in added}
    assert {k: v for k, v in wants.items() if k not in added} == ran
    assert config["role"] == "student" and config["sampling"]["steps"] == 1
    assert config["trained_steps"] == made.total_steps


def test_bundled_student_is_distilled_from_the_bundled_teacher():
    teacher, teacher_config = load_model(ASSETS / "teacher")
    student, student_config = load_model(ASSETS / "students" / "pose")
    assert student_config["model"] == teacher_config["model"]
    assert (
        student_config["max_text"] == teacher_config["max_text"]
    )  # reads prompts as this teacher does (v5: 32 tokens, v7: 80)
    t, s = teacher.state_dict(), student.state_dict()
    assert all(torch.isfinite(v).all() for v in s.values())
    assert sum(not torch.equal(t[k], s[k]) for k in t) > len(t) // 2  # trained away from its initialisation


def test_the_demo_evaluations_ship_with_the_bundled_models():
    """`make demo` copies the bundled models' evaluations instead of spending 20 minutes on them: each
    shipped key must be the one the demo asks for today. Fix: `.venv/bin/python scripts/ship_evals.py`."""
    from onestep import paths
    from onestep.commands.demo import EVALS
    from onestep.commands.eval import shipped_key
    from onestep.commands.sample import sampler_for
    from onestep.eval import shipped, suite
    from onestep.world.clip import WorldConfig

    for _, model, nfe, _ in (e for e in EVALS if e[1] is not None):
        _, config = load_model(model)
        want = shipped_key(
            model, config, sampler_for(config, nfe, None, None), tracks=list(suite.TRACKS), n=256, seed=0
        )
        assert shipped.find(model, want) is not None, (
            f"{model} ships no evaluation at {nfe} NFE for today's weights and evaluation version: run "
            "scripts/ship_evals.py"
        )
    for track in suite.TRACKS:
        assert (paths.EVALS / suite.anchors_name(track, WorldConfig(), None)).is_file(), (
            f"no current {track} anchors in {paths.EVALS}: run scripts/ship_evals.py"
        )


def test_the_bundled_asd_student_is_a_causal_student_of_the_bundled_teacher():
    """docs/asd.md reports it: the asd preset's run (from its causal init) on the bundled teacher."""
    from onestep import paths

    _, teacher_config = load_model(paths.TEACHER)
    student, config = load_model(paths.CAUSAL_STUDENT)
    run = json.loads((paths.CAUSAL_STUDENT / "run-config.json").read_text())
    init = json.loads((paths.CAUSAL_STUDENT / "init-run-config.json").read_text())
    assert run["preset"] == "asd" and init["preset"] == "causal-init" and config["preset"] == "asd"
    assert [p["name"] for p in run["phases"]] == ["causal_init", "asd"] and run["phases"][0][
        "steps"
    ] == 0  # the init ran as its own run
    assert config["trained_steps"] == run["phases"][1]["steps"] and config["role"] == "student"
    assert (
        config["model"] == {**teacher_config["model"], "causal_block": 1}
        and config["max_text"] == teacher_config["max_text"]
    )
    assert config["sampling"] == {"kind": "causal", "steps": 1, "first_block_steps": 4, "shift": 3.0}
    teacher, _ = load_model(paths.TEACHER)
    t, s = teacher.state_dict(), student.state_dict()
    assert (
        all(torch.isfinite(v).all() for v in s.values()) and sum(not torch.equal(t[k], s[k]) for k in t) > len(t) // 2
    )
