"""Evaluate the bundled models as `onestep demo` does and ship the results with them (eval/shipped.py).

    .venv/bin/python scripts/ship_evals.py            # about 35 minutes on 2 cores, most of it the 100-NFE teacher

Writes assets/teacher/evals/nfe{1,4,100}-n256/, assets/students/pose/evals/nfe1-n256/ and the two
tracks' anchors in assets/teacher/evals/. An evaluation already shipped under the current key (same
weights, settings and code) is kept as it is, so the script can be stopped and rerun. Run it after
retraining a bundled model or changing the code the numbers depend on (shipped.NUMBERS):
tests/test_assets.py fails until then, because `make demo` would otherwise recompute them.
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


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=256, help="held-out clips per track (the demo's)")
    p.add_argument("--work", type=Path, default=Path("runs/ship-evals"), help="where the evaluations are made first")
    args = p.parse_args()
    for _, model, nfe, name in (e for e in EVALS if e[1] is not None):
        out = args.work / f"{Path(model).name}-nfe{nfe}-n{args.n}"
        print(f"{name} at {nfe} NFE: {out}")
        metrics = eval_cmd.run(model_dir=model, nfe=nfe, tracks=["shapes", "photocam"], n=args.n, photos=None, conditions=None, out=out, seed=0, featnet=None, say=print)
        if "shipped" not in metrics:
            print(f"  shipped as {shipped.ship(out, model, f'nfe{nfe}-n{args.n}')} (Total {metrics['total']:.2f})")
    config = WorldConfig()
    for track in ("shapes", "photocam"):
        name = suite.anchors_name(track, config, None)
        suite.cached_anchors(track, config, None, paths.CACHE, paths.EVALS)
        if not (paths.EVALS / name).is_file():
            shutil.copyfile(paths.CACHE / name, paths.EVALS / name)
        print(f"anchors: {paths.EVALS / name}")
    stale = [a for a in paths.EVALS.glob("anchors-*.json") if a.name not in {suite.anchors_name(t, config, None) for t in ("shapes", "photocam")}]
    for path in stale:
        path.unlink()
        print(f"removed stale {path}")


if __name__ == "__main__":
    main()
