"""Evaluate the bundled models as `onestep demo` does and ship the results with them (eval/shipped.py).

    .venv/bin/python scripts/ship_evals.py            # about 15 minutes alone on 2 cores (session 18), most of it the 100-NFE teacher
    .venv/bin/python scripts/ship_evals.py --rekey    # after a code change that should not move a number: about 6 minutes

Writes assets/teacher/evals/nfe{1,4,100}-n256/, assets/students/pose/evals/nfe1-n256/ and the two
tracks' anchors in assets/teacher/evals/. An evaluation already shipped under the current key (same
weights, settings and code) is kept as it is, so the script can be stopped and rerun. Run it after
retraining a bundled model or changing the code the numbers depend on (shipped.NUMBERS):
tests/test_assets.py fails until then, because `make demo` would otherwise recompute them.

--rekey is for a change of that code meant to leave the numbers alone (a refactor, a new field): it
re-evaluates the shipped evaluations of at most 4 NFE and the anchors, and only if every number
equals the shipped one to 1e-4 relative (REL; another thread count alone moves the sixth digit) and
every video to a level in a thousandth of its values (PIXELS) does it move all of them, the 100-NFE
one too, to today's code version. That the 1- and 4-NFE evaluations (every sampler path, the model,
the metrics) are unchanged is the evidence for the 100-NFE one; anything that differs is printed and
nothing is re-keyed.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import numpy as np

from onestep import paths
from onestep.commands import eval as eval_cmd
from onestep.commands.demo import EVALS
from onestep.eval import shipped, suite
from onestep.models.io import weights_hash
from onestep.world.clip import WorldConfig

TRACKS = ("shapes", "photocam")
REL = 1e-4  # "the same number": the report prints at most four significant digits; the thread count alone moves the sixth
PIXELS = 1e-3  # "the same video": at most this share of uint8 values one level apart (float rounding at another thread count)
TIMING = {"seconds_per_video", "model", "shipped", "videos_kept", "shipped_seconds_per_video"}  # not numbers of the evaluation


def evaluate(model: Path, nfe: int, n: int, work: Path, fresh: bool = False) -> tuple[Path, dict]:
    out = work / f"{model.name}-nfe{nfe}-n{n}"
    print(f"{model} at {nfe} NFE: {out}")
    return out, eval_cmd.run(model_dir=model, nfe=nfe, tracks=list(TRACKS), n=n, photos=None, conditions=None, out=out, seed=0, featnet=None, say=print, fresh=fresh)


def ship_all(n: int, work: Path) -> None:
    for _, model, nfe, _ in (e for e in EVALS if e[1] is not None):
        out, metrics = evaluate(Path(model), nfe, n, work)
        if "shipped" not in metrics:
            print(f"  shipped as {shipped.ship(out, model, f'nfe{nfe}-n{n}')} (Total {metrics['total']:.2f})")
    config = WorldConfig()
    current = {suite.anchors_name(t, config, None) for t in TRACKS}
    for track in TRACKS:
        name = suite.anchors_name(track, config, None)
        suite.cached_anchors(track, config, None, paths.CACHE, paths.EVALS)
        if not (paths.EVALS / name).is_file():
            shutil.copyfile(paths.CACHE / name, paths.EVALS / name)
        print(f"anchors: {paths.EVALS / name}")
    for path in paths.EVALS.glob("anchors-*.json"):
        if path.name not in current:
            path.unlink()
            print(f"removed stale {path}")


def differences(a, b, where: str = "") -> list[str]:
    """Every number of two metrics.json (as JSON reads them) that differs by more than REL (timings
    and paths left out)."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (a.keys() | b.keys()) - TIMING
        return [d for k in sorted(keys) for d in differences(a.get(k), b.get(k), f"{where}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    if isinstance(a, float) and isinstance(b, float) and (math.isclose(a, b, rel_tol=REL, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))):
        return []
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def videos_differ(new: np.ndarray, old: np.ndarray) -> bool:
    """More than PIXELS of the uint8 values differ, or any by more than one level."""
    d = np.abs(new[: len(old)].astype(int) - old.astype(int))
    return d.max() > 1 or (d > 0).mean() > PIXELS


def rekey(n: int, work: Path) -> None:
    code = shipped.code_version()
    folders = [(Path(model), nfe, Path(model) / shipped.FOLDER / f"nfe{nfe}-n{n}") for _, model, nfe, _ in EVALS if model is not None]
    for model, nfe, folder in folders:
        key = json.loads((folder / "key.json").read_text())
        if key["weights"] != weights_hash(model):
            raise SystemExit(f"{folder} was made with other weights of {model}: run this script without --rekey")
    diffs = []
    for model, nfe, folder in (f for f in folders if f[1] <= 4):
        out, metrics = evaluate(model, nfe, n, work / "rekey", fresh=True)
        diffs += [f"{folder}{d}" for d in differences(json.loads((out / "metrics.json").read_text()), json.loads((folder / "metrics.json").read_text()))]
        for track in TRACKS:
            with np.load(out / f"videos-{track}.npz") as new, np.load(folder / f"videos-{track}.npz") as old:
                if videos_differ(new["videos"], old["videos"]):
                    diffs.append(f"{folder}: videos-{track} differ")
    config = WorldConfig()
    anchors = {}
    for track in TRACKS:
        old = list(paths.EVALS.glob(f"anchors-{track}-*.json"))
        new = suite.cached_anchors(track, config, None, paths.CACHE)  # computed by the evaluations above
        if len(old) != 1 or differences(json.loads(old[0].read_text()), json.loads(json.dumps(new))):
            diffs.append(f"anchors of {track} differ from {old}")
        anchors[track] = (old, paths.CACHE / suite.anchors_name(track, config, None))
    if diffs:
        print("not re-keyed: today's code gives other numbers than the shipped ones; run without --rekey", *diffs, sep="\n  ")
        raise SystemExit(1)
    for _, _, folder in folders:
        key = json.loads((folder / "key.json").read_text())
        key["code"] = code
        (folder / "key.json").write_text(json.dumps(key, indent=2) + "\n")
        print(f"re-keyed {folder} to code version {code}")
    for old, new in anchors.values():
        old[0].unlink()
        shutil.copyfile(new, paths.EVALS / new.name)
        print(f"anchors: {paths.EVALS / new.name}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=256, help="held-out clips per track (the demo's)")
    p.add_argument("--work", type=Path, default=Path("runs/ship-evals"), help="where the evaluations are made first")
    p.add_argument("--rekey", action="store_true", help="re-key to today's code if the cheap evaluations and the anchors come out the same (REL, PIXELS)")
    args = p.parse_args()
    (rekey if args.rekey else ship_all)(args.n, args.work)


if __name__ == "__main__":
    main()
