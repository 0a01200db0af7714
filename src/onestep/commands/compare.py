"""`onestep compare PRESET... --budget STEPS --out DIR`: the POSE paper's Table 1 on one trainer.

Each preset is trained from the same teacher with the same data order (world seed, batch, track mix),
the same seed and the same number of steps (its phases rescaled in proportion to sum to the budget),
then evaluated at each NFE on the same held-out clips and noise; the teacher is evaluated at 1, 4 and
100 NFE. DIR/compare.json records all of it per row and the command refuses rows that differ.

It resumes: a preset whose student has the budget's steps is not retrained (an unfinished one resumes
from its last checkpoint), an evaluation with its metrics.json is not redone. Layout:

    DIR/compare.json                     the fairness record, wall times
    DIR/PRESET/                          an `onestep distill` run (config.json, checkpoints, student)
    DIR/PRESET/eval-nfe{K}/              `onestep eval` of its student at K NFE
    DIR/teacher/eval-nfe{K}/             the teacher's
    DIR/NAME.md, NAME.html, NAME_*.png   the table (eval/report_compare.py; NAME: compare, or ablations)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from onestep import methods, paths
from onestep.commands import distill
from onestep.configs.presets import PRESETS, TEST_PRESETS
from onestep.configs.presets import preset as preset_config
from onestep.errors import UserError
from onestep.files import held, write_json
from onestep.models.io import weights_hash
from onestep.models.kinds import kind_of

DEFAULT_BUDGET = (
    300  # steps per preset: Table 1's six presets train and evaluate in about an hour on 2 cores (docs/results.md)
)
TEACHER_NFE = (1, 4, 100)
FAIR = ("teacher", "seed", "batch", "tracks", "pairs", "steps")  # what every row must share


def scaled_steps(phases, budget: int) -> dict[str, int]:
    """Each phase's steps rescaled so the phases that run sum to `budget` (rounded; the last takes the rest)."""
    ran = [p for p in phases if p.steps > 0]
    if budget < len(ran):
        raise UserError(
            f"--budget {budget} is fewer steps than the {len(ran)} phases of a preset: pass --budget {len(ran)} or more"
        )
    total, out, left = sum(p.steps for p in ran), {p.name: 0 for p in phases}, budget
    for i, p in enumerate(ran):
        out[p.name] = left if i == len(ran) - 1 else max(1, round(budget * p.steps / total))
        left -= out[p.name]
    return out


def overrides(preset: str, budget: int, threads: int) -> list[str]:
    steps = scaled_steps(preset_config(preset).phases, budget)
    return [f"{name}.steps={n}" for name, n in steps.items()] + [f"train.threads={threads}", "train.sample_every=0"]


def record(preset: str, teacher: Path, budget: int, threads: int, teacher_hash: str) -> dict:
    """What the row was trained on: the resolved config's data, seed and steps, the teacher's weights."""
    cfg = distill.resolve(preset, teacher, overrides(preset, budget, threads))
    needs = any(p.steps > 0 and methods.build(p.method).needs_pairs for p in cfg.phases)
    return {
        "teacher": teacher_hash,
        "seed": cfg.train.seed,
        "batch": cfg.data.batch_size,
        "tracks": cfg.data.tracks,
        "pairs": {"count": cfg.data.pairs.count, "teacher_steps": cfg.data.pairs.teacher_steps} if needs else None,
        "steps": cfg.total_steps,
        "phases": {p.name: p.steps for p in cfg.phases if p.steps > 0},
    }


def check_fair(rows: dict[str, dict]) -> None:
    first, ref = next(iter(rows.items()))
    for preset, row in rows.items():
        for key in FAIR:
            if row[key] != ref[key]:
                raise UserError(
                    f"preset {preset} trains with {key} {row[key]!r} and {first} with {ref[key]!r}: a fair table "
                    "compares presets that share the teacher, data, seed and steps: leave one of them out"
                )


def finished(run: Path, budget: int) -> bool:
    config = run / "student" / "config.json"
    return config.is_file() and json.loads(config.read_text()).get("trained_steps") == budget


def evaluated(folder: Path, n: int, seed: int) -> bool:
    path = folder / "metrics.json"
    if not path.is_file():
        return False
    m = json.loads(path.read_text())
    return m.get("n") == n and m.get("seed") == seed


def run(
    *,
    presets: list[str],
    budget: int,
    out: Path,
    teacher: Path | None,
    n: int,
    seed: int,
    nfes: list[int],
    threads: int,
    train,
    evaluate,
    say=print,
    name: str = "compare",
) -> Path:
    """Train and evaluate every preset (resuming), then write the table. `train(preset, run_dir,
    overrides)` and `evaluate(model_dir, nfe, folder, name)` are the CLI's, with their progress bars."""
    from onestep.eval import report_compare

    unknown = [p for p in presets if p not in PRESETS and p not in TEST_PRESETS]
    if unknown:
        raise UserError(f"unknown preset(s) {', '.join(unknown)}: choose from {', '.join(PRESETS)}")
    if len(set(presets)) != len(presets) or not presets:
        raise UserError(f"name each preset once: got {' '.join(presets) or 'none'}")
    if budget < 1 or n < 2 or not nfes or min(nfes) < 1:
        raise UserError(
            f"--budget {budget}, --n {n}, --nfe {nfes}: pass a budget of 1 or more steps, --n 2 or more and NFEs of 1 "
            "or more"
        )
    teacher = Path(teacher or paths.TEACHER)
    if kind_of(teacher).data != "world":
        raise UserError(
            f"{teacher} is not a built-in DiT teacher: onestep compare evaluates on the embedded world; pass a "
            "onestep teacher such as assets/teacher"
        )
    teacher_hash = weights_hash(teacher)
    rows = {
        p: record(p, teacher, budget, threads, teacher_hash) for p in presets
    }  # every config checked before any training
    check_fair(rows)
    with held(out, "onestep compare"):
        out.mkdir(parents=True, exist_ok=True)
        state_path = out / "compare.json"
        state = json.loads(state_path.read_text()) if state_path.is_file() else {}
        if state and (state.get("budget"), state.get("n"), state.get("seed"), state.get("teacher")) != (
            budget,
            n,
            seed,
            teacher_hash,
        ):
            raise UserError(
                f"{out} holds a comparison at another budget, n, seed or teacher ({state.get('budget')}, "
                f"{state.get('n')}, {state.get('seed')}): pass those again, or a new --out"
            )
        state |= {
            "kind": "compare",
            "budget": budget,
            "n": n,
            "seed": seed,
            "teacher": teacher_hash,
            "teacher_dir": str(teacher),
            "teacher_nfe": list(TEACHER_NFE),
            "nfe": sorted(nfes),
        }
        state.setdefault("rows", {})
        save = lambda: write_json(state_path, state)  # noqa: E731

        for i, preset in enumerate(presets, 1):
            row = state["rows"].setdefault(preset, {}) | rows[preset]
            state["rows"][preset] = row
            run_dir = out / preset
            if finished(run_dir, budget):
                say(f"[{i}/{len(presets)}] {preset}: trained ({budget} steps), kept")
            else:
                say(
                    f"[{i}/{len(presets)}] {preset}: training {budget} steps "
                    f"({', '.join(f'{k} {v}' for k, v in row['phases'].items())}) in {run_dir}"
                )
                start = time.monotonic()
                train(preset, run_dir, overrides(preset, budget, threads))
                row["train_seconds"] = row.get("train_seconds", 0.0) + time.monotonic() - start
                save()
            for nfe in sorted(nfes):
                folder = run_dir / f"eval-nfe{nfe}"
                if not evaluated(folder, n, seed):
                    start = time.monotonic()
                    evaluate(run_dir / "student", nfe, folder, report_compare.label(preset))
                    row.setdefault("eval_seconds", {})[str(nfe)] = time.monotonic() - start
            save()
        for nfe in TEACHER_NFE:
            folder = out / "teacher" / f"eval-nfe{nfe}"
            if not evaluated(folder, n, seed):
                evaluate(teacher, nfe, folder, "teacher")
        save()
        return report_compare.write(out, state, presets, name)
