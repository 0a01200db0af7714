"""Evaluate the bundled models as `onestep demo` does and ship the results with them (eval/shipped.py).

    .venv/bin/python scripts/ship_evals.py     # about 45 minutes alone on 2 cores, most of it the 100-NFE teacher

Writes assets/teacher/evals/nfe{1,4,100}-n256/, assets/students/pose/evals/nfe1-n256/,
assets/students/asd/evals/nfe1-n256/ (its default sampler, 1*) and every track's anchors in
assets/teacher/evals/. An evaluation already shipped under the current key (same weights, settings
and evaluation version) is kept as it is, so the script can be stopped and rerun. Run it after
retraining a bundled model or bumping shipped.EVAL_VERSION: tests/test_assets.py fails until then,
because `make demo` would otherwise recompute them.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from onestep import paths
from onestep.commands import eval as eval_cmd
from onestep.commands.demo import EVALS
from onestep.eval import shipped, suite
from onestep.world.clip import WorldConfig

TRACKS = suite.TRACKS


def evaluate(model: Path, nfe: int, n: int, work: Path, fresh: bool = False) -> tuple[Path, dict]:
    out = work / f"{model.name}-nfe{nfe}-n{n}"
    print(f"{model} at {nfe} NFE: {out}")
    return out, eval_cmd.run(
        model_dir=model,
        nfe=nfe,
        tracks=list(TRACKS),
        n=n,
        photos=None,
        conditions=None,
        out=out,
        seed=0,
        featnet=None,
        say=print,
        fresh=fresh,
    )


SHIPPED = [(model, nfe) for _, model, nfe, _ in EVALS if model is not None] + [
    (paths.CAUSAL_STUDENT, 1)
]  # the demo's, and the ASD student's 1*


def ship_all(n: int, work: Path) -> None:
    for model, nfe in SHIPPED:
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


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=256, help="held-out clips per track (the demo's)")
    p.add_argument("--work", type=Path, default=Path("runs/ship-evals"), help="where the evaluations are made first")
    args = p.parse_args()
    ship_all(args.n, args.work)


if __name__ == "__main__":
    main()
