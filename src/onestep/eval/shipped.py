"""Evaluations that ship with a model directory, used only where they are the evaluation asked for.

The bundled teacher's evaluations (the 100-NFE one costs about 20 minutes here) and the suite's
anchors are the same for every user of that teacher, so `assets/teacher/evals/` ships them. An
evaluation folder there holds `key.json`, `metrics.json` and the first videos of each track (the
report's sample grid). `onestep eval` takes one instead of evaluating only when its key equals the
key of the evaluation asked for:

    key = {model weights hash, sampler, tracks, n, seed, prompts, photos, world size, text length,
           feature network hash, evaluation version}

where the evaluation version (`EVAL_VERSION`) is a number that every change to what an evaluation
computes bumps: a metric, the world's clips, the sampler, the aggregate. `tests/test_eval_version.py`
pins the suite's output on fixed inputs (a tiny model sampled by every sampler, the instruments, the
aggregates) to a fingerprint recorded with the version, and fails when the output moves and the
version does not. A changed weight, setting or version means a new key, so the evaluation is
recomputed; a user's own model has no shipped folder and is always evaluated. The anchors
(`suite.cached_anchors`) carry the version in their file name the same way.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from onestep.files import write_json

EVAL_VERSION = 2  # bump on any change to what an evaluation computes (module docstring); 1 was the code hash's era
FOLDER = "evals"  # MODEL/evals/NAME
KEEP_VIDEOS = 8  # clips per track kept with a shipped evaluation (the report shows 6)


def key(
    weights: str,
    *,
    sampler: dict,
    tracks: list[str],
    n: int,
    seed: int,
    prompts: str,
    photos: str | None,
    world: dict,
    max_text: int,
    featnet: str,
) -> dict:
    """Everything an evaluation's numbers depend on."""
    return {
        "weights": weights,
        "version": EVAL_VERSION,
        "sampler": sampler,
        "tracks": sorted(tracks),
        "n": n,
        "seed": seed,
        "prompts": prompts,
        "photos": photos,
        "world": world,
        "max_text": max_text,
        "featnet": featnet,
    }


def find(model_dir: Path, want: dict) -> Path | None:
    """The shipped evaluation of `model_dir` whose key equals `want`, if there is one."""
    for path in sorted((Path(model_dir) / FOLDER).glob("*/key.json")):
        if json.loads(path.read_text()) == want:
            return path.parent
    return None


def use(found: Path, out: Path, **fields) -> dict:
    """Copy a shipped evaluation into `out` as `onestep eval` would have written it; its metrics say where
    from, and its timing is moved to `shipped_seconds_per_video` (another machine's, another time's);
    `fields` (the model path as given, a report name) replace the shipped ones."""
    out.mkdir(parents=True, exist_ok=True)
    for path in found.glob("videos-*.npz"):
        shutil.copyfile(path, out / path.name)
    metrics = json.loads((found / "metrics.json").read_text())
    metrics["shipped"] = str(found)
    # its sampling time was measured on the machine that shipped it: kept, but not as this run's latency
    metrics["shipped_seconds_per_video"] = metrics.pop("seconds_per_video", None)
    metrics.update(fields)
    write_json(out / "metrics.json", metrics)
    write_json(out / "key.json", json.loads((found / "key.json").read_text()))
    return metrics


def ship(eval_dir: Path, model_dir: Path, name: str) -> Path:
    """Ship the evaluation in `eval_dir` (written by `onestep eval`, with its key.json) with `model_dir`
    as MODEL/evals/NAME: its key, its metrics and the first KEEP_VIDEOS videos of each track."""
    want = json.loads((eval_dir / "key.json").read_text())
    if want.get("version") != EVAL_VERSION:
        raise ValueError(
            f"{eval_dir} was evaluated by evaluation version {want.get('version')}, now {EVAL_VERSION}: evaluate again"
        )
    dest = Path(model_dir) / FOLDER / name
    dest.mkdir(parents=True, exist_ok=True)
    for path in eval_dir.glob("videos-*.npz"):
        with np.load(path) as data:
            np.savez_compressed(dest / path.name, videos=data["videos"][:KEEP_VIDEOS])
    metrics = json.loads((eval_dir / "metrics.json").read_text())
    metrics.pop("shipped", None)
    here, model = Path.cwd().resolve(), Path(model_dir).resolve()
    metrics["model"] = (
        str(model.relative_to(here)) if model.is_relative_to(here) else str(model)
    )  # no machine's own path in a shipped file
    metrics["videos_kept"] = KEEP_VIDEOS
    write_json(dest / "metrics.json", metrics)
    write_json(dest / "key.json", want)
    return dest
