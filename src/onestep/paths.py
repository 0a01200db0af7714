"""Where the repository's shipped assets live (the bundled teacher, the feature network)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
TEACHER = ASSETS / "teacher"
STUDENT = ASSETS / "students" / "pose"  # the bundled one-step student (its config.json names its preset)
CAUSAL_STUDENT = ASSETS / "students" / "asd"  # the bundled block-causal student (docs/asd.md)
EVALS = TEACHER / "evals"  # the bundled teacher's shipped evaluations and anchors (eval/shipped.py)
FEATNET = ASSETS / "featnet"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "onestep"
