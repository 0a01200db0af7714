"""Re-record tests/data/golden_losses.json: every logged loss, gradient norm and metric of three
steps of each phase of `pose-test` (on the tests' tiny teacher) and of `teacher-tiny`.

The golden tests guard against changes that move the numbers unnoticed. Re-record only when a change
is meant to move them (the world's data, a method's loss), and say so in the commit:
    .venv/bin/python scripts/record_golden.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from onestep.commands.distill import run  # noqa: E402
from onestep.configs.base import override  # noqa: E402
from onestep.configs.teacher import teacher_tiny  # noqa: E402
from onestep.train.teacher import train  # noqa: E402
from tests.test_distill import GOLDEN, logged  # noqa: E402
from tests.tiny import tiny_teacher_dir  # noqa: E402

KEEP = ("loss", "grad_norm", "vsd/", "pose/", "ode/", "flow/")


def keep(tags: dict) -> dict:
    return {t: v for t, v in sorted(tags.items()) if any(k in t for k in KEEP)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        teacher = tiny_teacher_dir(tmp / "teacher")
        run(preset="pose-test", teacher=teacher, out=tmp / "pose", overrides=[], progress=False)
        train(override(teacher_tiny(), {"text_stats_prompts": 16}), tmp / "teacher-run", progress=False)
        golden = {"pose-test": keep(logged(tmp / "pose")), "teacher-tiny": keep(logged(tmp / "teacher-run"))}
    GOLDEN.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"{GOLDEN}: {sum(len(v) for g in golden.values() for v in g.values())} values")


if __name__ == "__main__":
    main()
