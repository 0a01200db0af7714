"""`onestep export RUN --out DIR [--format diffusers|lora]`: a distilled student for another library.

The student's kind writes it (models/kinds.py `export`): a Wan student as a diffusers pipeline folder,
the teacher's with the student's transformer and a one-step scheduler, or with `--format lora` (a run
with `model.student_lora_rank` > 0) as its adapter alone in diffusers' LoRA layout
(models/wan_pipeline.py `export`). A built-in DiT student is already a onestep model directory. The
folder is written under DIR.partial and renamed when complete.

DIR is replaced only when it is new, empty, or an earlier export of the same run: never the run, its
teacher, a folder holding either, a folder inside the teacher, or anyone's other files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from onestep.errors import UserError
from onestep.files import replace_dir
from onestep.models import kinds


def student_of(run: Path) -> tuple[Path, kinds.ModelKind, Path]:
    """(the run's student folder, its kind, the teacher's folder), or a UserError naming the fix."""
    config_path, student = run / "config.json", run / "student"
    if not config_path.is_file():
        raise UserError(f"{run} has no config.json: pass the run directory of `onestep distill`")
    kind = kinds.detected(student)
    if kind is None or kind.export is None:
        what = (
            f"a {kind.title} student (already a onestep model directory: use it as it is)"
            if kind is not None
            else "no student yet (distill it first)"
        )
        raise UserError(f"{run} holds {what}: export writes Wan students as diffusers folders")
    teacher = Path(json.loads(config_path.read_text())["model"]["teacher"])
    if not (teacher / "model_index.json").is_file():
        raise UserError(
            f"the run's teacher {teacher} is not a Wan pipeline folder (no model_index.json): export needs its VAE "
            "and encoders; distill with --teacher set to the pipeline folder"
        )
    return student, kind, teacher


def check_out(out: Path, run_dir: Path, teacher: Path) -> None:
    """Refuse, before anything is written, an --out whose replacement would lose files (module docstring)."""
    target, run_dir, teacher = out.resolve(), run_dir.resolve(), teacher.resolve()
    for what, path in (("the run", run_dir), ("the run's teacher", teacher)):
        if target == path or target in path.parents:
            raise UserError(f"--out {out} holds {what} ({path}), which export would replace: pass a new folder")
    if teacher in target.parents:
        raise UserError(f"--out {out} is inside the run's teacher {teacher}: pass a folder outside it")
    if target.is_file():
        raise UserError(f"--out {out} is a file: pass a folder (new, empty, or an earlier export of this run)")
    if not target.is_dir() or not any(target.iterdir()):
        return
    marker = target / "onestep.json"
    try:
        source = json.loads(marker.read_text()).get("exported_from") if marker.is_file() else None
    except (json.JSONDecodeError, AttributeError):
        source = None
    if source is None or Path(source).resolve() != run_dir:
        raise UserError(
            f"--out {out} is a folder that is not an earlier export of {run_dir} and export would replace it: pass a "
            "new or empty folder"
        )


def run(*, run_dir: Path, out: Path, format: str = "diffusers") -> Path:
    run_dir = Path(run_dir)
    student, kind, teacher = student_of(run_dir)
    out = Path(out)
    check_out(out, run_dir, teacher)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    kind.export(student, teacher, tmp, format, exported_from=str(run_dir.resolve()))
    return replace_dir(tmp, out)
