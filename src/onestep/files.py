"""Files written whole or not at all (a temporary name beside the target, then a rename), and the lock
a command holds its output folder by."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

from onestep.errors import UserError

LOCK = ".lock"  # the file a command holds its output folder by (held)


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


@contextmanager
def held(folder: Path, what: str):
    """Hold `folder` for one command: a POSIX lock on FOLDER/.lock, which the system drops when the
    process ends, killed or not, and which a forked child (a data worker) does not inherit, as it would
    an flock. A second command on the same folder is refused with the holder's name instead of
    overwriting its run. Under torchrun, process 0 holds it for all."""
    import fcntl
    import os
    import socket
    import time

    if int(os.environ.get("RANK", "0")) != 0:
        yield
        return
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {folder} is a file: pass a folder")
    folder.mkdir(parents=True, exist_ok=True)
    lock = open(folder / LOCK, "a+")
    try:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.seek(0)
        holder = lock.read().strip() or "another process"
        lock.close()
        raise UserError(f"{folder} is in use by {holder}: wait for it to end, or pass another --out") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')} ({what})\n")
    lock.flush()
    try:
        yield
    finally:
        lock.truncate(0)
        lock.close()  # closing drops the lock
