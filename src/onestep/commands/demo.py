"""`onestep demo` (`make demo`): distil the bundled teacher with `pose-demo`, evaluate the one-step
student on the suite's held-out clips, set it beside the teacher at 1, 4 and 100 NFE and the bundled
student on the same clips and noise, time the one-step speedup, and write the report whose
first lines say what the run showed.

The teacher's and the bundled student's evaluations are the same for every user of the bundled
models, so they ship with them (eval/shipped.py) and are copied, not recomputed, while their weights,
settings and code match; anything else is evaluated here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from onestep import paths
from onestep.errors import UserError
from onestep.eval import suite
from onestep.files import write_json
from onestep.models.io import read_config

# (evaluation folder, model (None: the demo's student), NFE, name in the report)
EVALS = (
    ("student-nfe1", None, 1, "demo student"),
    ("teacher-nfe1", paths.TEACHER, 1, "teacher"),
    ("teacher-nfe4", paths.TEACHER, 4, "teacher"),
    ("teacher-nfe100", paths.TEACHER, 100, "teacher"),
    ("bundled-student-nfe1", paths.STUDENT, 1, "bundled student"),
)


def run(*, out: Path, n: int, preset: str = "pose-demo", say=print) -> Path:
    from onestep.commands import bench, distill
    from onestep.commands import eval as eval_cmd
    from onestep.commands.report import print_metrics
    from onestep.commands.report import run as report

    if n < 2:
        raise UserError(f"--n {n} is too few clips for intervals: pass --n 2 or more (the shipped evaluations are 256)")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file: pass a folder for the demo's run, evaluations and report")
    out.mkdir(parents=True, exist_ok=True)
    say(f"[1/4] distilling {paths.TEACHER} with {preset} into {out / 'run'}")
    start = time.perf_counter()
    student = distill.run(preset=preset, teacher=paths.TEACHER, out=out / "run", overrides=[])
    minutes = (time.perf_counter() - start) / 60
    evals, seconds = {}, {"distill": 60 * minutes}  # where the demo's time goes, in summary.json
    for folder, model, nfe, name in EVALS:
        say(f"[2/4] {name} at {nfe} NFE on {n} held-out clips per track")
        start = time.perf_counter()
        metrics = eval_cmd.run(
            model_dir=Path(model or student),
            nfe=nfe,
            tracks=list(suite.TRACKS),
            n=n,
            photos=None,
            conditions=None,
            out=out / folder,
            seed=0,
            featnet=None,
            say=say,
            name=name,
        )
        seconds[f"eval {folder}"] = time.perf_counter() - start
        print_metrics(metrics)
        evals[folder] = metrics
    say("[3/4] timing one step against the teacher's 100 NFE (interleaved)")
    start = time.perf_counter()
    speed = bench.speedup(student)
    seconds["bench"] = time.perf_counter() - start
    summary = summarise(
        evals, speed, preset, minutes, json.loads((out / "run" / "config.json").read_text()), read_config(paths.STUDENT)
    )
    say(summary)
    say("[4/4] writing the report")
    start = time.perf_counter()
    _, html = report(
        [out / folder for folder, *_ in EVALS],
        out / "report",
        "onestep demo: one-step distillation of the bundled teacher",
        summary=summary,
    )
    seconds["report"] = time.perf_counter() - start
    write_json(out / "summary.json", {"summary": summary, "distill_minutes": minutes, "seconds": seconds, **speed})
    say(f"report: {html}")
    return html


def summarise(
    evals: dict[str, dict], speed: dict, preset: str, minutes: float, config: dict, bundled_config: dict
) -> str:
    """The report's first lines: what the demo did and what it shows, in numbers (`bundled_config`: the
    bundled student's config.json, which names its preset and steps). On the suite's scale the ground
    truth scores 100; the student is set beside the teacher at one step and at 100, never by a ratio alone."""
    s1, t1, t100, bundled = (
        evals[k] for k in ("student-nfe1", "teacher-nfe1", "teacher-nfe100", "bundled-student-nfe1")
    )

    def total(m: dict, key: str = "total") -> str:
        lo, hi = m["intervals"][key]
        return f"{m[key]:.1f} [{lo:.1f}, {hi:.1f}]"

    def against(a: dict, b: dict, key: str = "total") -> str:
        (alo, ahi), (blo, bhi) = a["intervals"][key], b["intervals"][key]
        return (
            "above it, intervals apart"
            if alo > bhi
            else "below it, intervals apart"
            if ahi < blo
            else "intervals overlapping"
        )

    steps = sum(p["steps"] for p in config["phases"])
    return (
        f"The demo distilled the bundled teacher into a one-step student with `{preset}` ({steps} training steps, "
        f"{minutes:.1f} minutes here). "
        f"On the suite's scale (ground truth 100), the student in one step scores Total {total(s1)}; the teacher "
        f"scores {total(t1)} in one step "
        f"({against(s1, t1)}) and {total(t100)} in 100 steps ({against(s1, t100)}). "
        f"Text-to-video (the t2v track): student {total(s1, 'total/t2v')}, teacher {total(t1, 'total/t2v')} in one "
        f"step and {total(t100, 'total/t2v')} in 100; "
        f"crisp objects {s1['t2v_object_crisp']:.2f} against {t1['t2v_object_crisp']:.2f} and "
        f"{t100['t2v_object_crisp']:.2f}. "
        f"Camera moves: {s1['camera_motion_acc']:.0%} (teacher {t1['camera_motion_acc']:.0%} in one step, "
        f"{t100['camera_motion_acc']:.0%} in 100). "
        f"Its one step denoises {speed['speedup']:.0f}x faster than the teacher's 100 (timed here, interleaved). "
        f"For comparison, the bundled `{bundled_config.get('preset', 'pose')}` student "
        f"({bundled_config['trained_steps']:,} training steps, docs/pose.md) scores {total(bundled)} in one step "
        f"(t2v {total(bundled, 'total/t2v')}). {s1['n']} held-out clips per track, the same conditions and noise in "
        "every row; 95% bootstrap intervals."
    )
