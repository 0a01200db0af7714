"""Where the repository's shipped assets live (the bundled teacher, the feature network)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
TEACHER = ASSETS / "teacher"
FEATNET = ASSETS / "featnet"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "onestep"
