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


def replace_dir(tmp: Path, target: Path) -> Path:
    """Put the complete folder `tmp` in place of `target`: the old one moves aside first and is deleted
    last, so a kill leaves either folder whole (the old one under TARGET.old)."""
    import shutil

    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target
