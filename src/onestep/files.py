"""Files written whole or not at all: a temporary name beside the target, then a rename."""

from __future__ import annotations

import json
from pathlib import Path


def write_atomic(path: Path, data: bytes | str) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    tmp.replace(path)


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2, default=float) + "\n")
