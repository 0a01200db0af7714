"""`onestep export RUN --out DIR [--format diffusers|lora]`: a distilled Wan student for diffusers.

`--format lora` (a run with `model.student_lora_rank` > 0) writes the student's adapter (EMA weights)
alone, DIR/pytorch_lora_weights.safetensors in diffusers' layout: `pipe.load_lora_weights(DIR)` on
the teacher's pipeline gives the student. `--format diffusers` writes a whole pipeline folder:

The folder is the teacher's pipeline folder with the student's transformer (the run's EMA weights,
RUN/student) in place of the teacher's, and a `FlowMatchEulerDiscreteScheduler` at the student's
shift: at one step the scheduler's update x - (1 - 0) v is the student's sample x0 = noise - G(noise,
1), so `WanPipeline.from_pretrained(DIR)(..., num_inference_steps=1, guidance_scale=1.0)` reproduces
it. The other components (VAE, text encoder, tokenizer, image encoder) are the teacher's files, hard
linked where the file system allows (no second copy of a 20 GB text encoder), else copied. The folder
is written under DIR.partial and renamed when complete.

DIR is replaced only when it is new, empty, or an earlier export of the same run: never the run, its
teacher, a folder holding either, a folder inside the teacher, or anyone's other files.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from onestep.errors import UserError
from onestep.files import replace_dir
from onestep.models import wan

SCHEDULER = {
    "_class_name": "FlowMatchEulerDiscreteScheduler",
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "use_dynamic_shifting": False,
}


def link_tree(src: Path, dst: Path) -> None:
    """Hard-link (or copy, across file systems) every file of src into dst."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)


def student_of(run: Path) -> tuple[Path, dict, Path]:
    """(the run's student folder, its onestep settings, the teacher's folder), or a UserError naming the fix."""
    config_path, student = run / "config.json", run / "student"
    if not config_path.is_file():
        raise UserError(f"{run} has no config.json: pass the run directory of `onestep distill`")
    if not (student / "onestep.json").is_file():
        what = (
            "a built-in DiT student (already a onestep model directory: use it as it is)"
            if (student / "model.safetensors").is_file()
            else "no student yet (distill it first)"
        )
        raise UserError(f"{run} holds {what}: export writes Wan students as diffusers folders")
    teacher = Path(json.loads(config_path.read_text())["model"]["teacher"])
    if not (teacher / "model_index.json").is_file():
        raise UserError(
            f"the run's teacher {teacher} is not a Wan pipeline folder (no model_index.json): export needs its VAE "
            "and encoders; distill with --teacher set to the pipeline folder"
        )
    return student, json.loads((student / "onestep.json").read_text()), teacher


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
    student, settings, teacher = student_of(run_dir)
    out = Path(out)
    check_out(out, run_dir, teacher)
    exported_from = str(run_dir.resolve())
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    if format == "lora":
        if not (student / wan.LORA_FILE).is_file():
            raise UserError(
                f"{run_dir} trained its student in full, so it has no LoRA: export --format diffusers, or distill "
                "with --set model.student_lora_rank=R"
            )
        tmp.mkdir(parents=True)
        shutil.copy2(student / wan.LORA_FILE, tmp / wan.LORA_FILE)
        (tmp / "onestep.json").write_text(
            json.dumps({**settings, "exported_from": exported_from, "base": str(teacher)}, indent=2) + "\n"
        )
        return replace_dir(tmp, out)
    if format != "diffusers":
        raise UserError(
            f"--format {format!r}: use diffusers (a pipeline folder) or lora (the adapter for pipe.load_lora_weights)"
        )
    index = json.loads((teacher / "model_index.json").read_text())
    for name, entry in index.items():
        if name.startswith("_") or name in ("transformer", "scheduler") or entry in (None, [None, None]):
            continue
        link_tree(teacher / name, tmp / name)
    (tmp / "transformer").mkdir(parents=True)
    for path in student.iterdir():
        if path.name not in ("onestep.json", wan.LORA_FILE):
            shutil.copy2(path, tmp / "transformer" / path.name)
    (tmp / "scheduler").mkdir()
    shift = settings.get("sampling", {}).get("shift", 1.0)
    (tmp / "scheduler" / "scheduler_config.json").write_text(json.dumps({**SCHEDULER, "shift": shift}, indent=2) + "\n")
    index["scheduler"] = ["diffusers", SCHEDULER["_class_name"]]
    (tmp / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
    (tmp / "onestep.json").write_text(json.dumps({**settings, "exported_from": exported_from}, indent=2) + "\n")
    if not wan.is_wan(tmp):
        raise UserError(
            f"the export in {tmp} is not a Wan folder: the teacher's model_index.json names {index.get('_class_name')}"
        )
    return replace_dir(tmp, out)
