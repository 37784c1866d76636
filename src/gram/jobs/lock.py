"""One writer per output: a job holds OUTPUT.lock (filelock: an OS lock, let go when the process ends, even
by a kill) from its start to its last write. A second job on the same output refuses in one line naming
the first (its pid, command and start), instead of both reporting success over one file.

    with output_lock("scores.jsonl"):  # before the model loads: a refusal costs nothing
        ...  # PartialOutput("scores.jsonl", ...) inside takes the same lock again (held once per process)
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError

_held: dict[Path, list] = {}  # lock path -> [FileLock, how many holders in this process]


def lock_path(output: str | Path) -> Path:
    return Path(output).with_name(Path(output).name + ".lock")


def acquire(output: str | Path) -> Path:
    """Take OUTPUT.lock (again, if this process holds it); InputError if another process holds it."""
    from filelock import FileLock, Timeout

    path = lock_path(output).absolute()
    if path in _held:
        _held[path][1] += 1
        return path
    try:  # an output nobody can write is said as such (filelock would report it as held by another run)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError as err:
        raise InputError(output, None, None, f"cannot be written here ({err.strerror or err}): choose another "
                         "output") from None
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise InputError(output, None, None, f"another gram run is writing it ({holder(path)}); wait for it to "
                         "end or choose another output") from None
    owner = {"pid": os.getpid(), "command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    path.write_text(json.dumps(owner), encoding="utf-8")
    _held[path] = [lock, 1]
    return path


def release(path: Path) -> None:
    entry = _held.get(path)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] == 0:
        del _held[path]
        path.unlink(missing_ok=True)  # before letting go: a later run makes a fresh lock file
        entry[0].release()


def holder(path: Path) -> str:
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {owner['pid']}, `{owner['command']}`, since {owner['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return f"its lock {path} is held"


@contextmanager
def output_lock(output: str | Path):
    path = acquire(output)
    try:
        yield path
    finally:
        release(path)


def job_lock(output: str | Path):
    """The output's lock for a whole command, taken by the launching process (rank 0 of a sharded run: the
    other ranks write shards of their own, each locked by its PartialOutput)."""
    from contextlib import nullcontext

    from .sharding import world

    return output_lock(output) if world()[0] == 0 else nullcontext()
