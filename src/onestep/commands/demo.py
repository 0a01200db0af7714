"""`onestep demo` (`make demo`): distill the bundled teacher with POSE on a short budget, evaluate the
student at 1 and 4 NFE and the teacher at 1, 4 and 100 NFE on the same held-out clips and seeds,
print the table and write the html report with side-by-side videos."""

from __future__ import annotations

from pathlib import Path

from onestep import paths


def run(*, out: Path, n: int, preset: str = "pose-demo", say=print) -> Path:
    from onestep.commands import distill
    from onestep.commands import eval as eval_cmd
    from onestep.commands.report import print_metrics
    from onestep.commands.report import run as report

    out.mkdir(parents=True, exist_ok=True)
    say(f"[1/3] distilling {paths.TEACHER} with {preset} into {out / 'run'}")
    student = distill.run(preset=preset, teacher=paths.TEACHER, out=out / "run", overrides=[])
    evals = []
    for name, model, nfe in (("student-nfe1", student, 1), ("student-nfe4", student, 4), ("teacher-nfe1", paths.TEACHER, 1), ("teacher-nfe4", paths.TEACHER, 4), ("teacher-nfe100", paths.TEACHER, 100)):
        say(f"[2/3] evaluating {name} on {n} held-out clips per track")
        metrics = eval_cmd.run(model_dir=Path(model), nfe=nfe, tracks=["shapes", "photocam"], n=n, photos=None, conditions=None, out=out / name, seed=0, featnet=None)
        print_metrics(metrics)
        evals.append(out / name)
    say("[3/3] writing the report")
    md, html = report(evals, out / "report", "onestep demo: POSE student vs teacher")
    say(f"report: {html}")
    return html
