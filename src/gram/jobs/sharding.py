"""Jobs across processes: under torchrun or `accelerate launch` (WORLD_SIZE > 1) each
rank takes one contiguous slice of the input, writes its rows to OUTPUT.rank<r>-of-<w> (resumable like any
output), and rank 0 merges the slices in input order once every rank is done.

    torchrun --nproc_per_node 8 -m gram.cli score --input pairs.jsonl --output scores.jsonl
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def world() -> tuple[int, int]:
    """(rank, world size) from the launcher's environment; (0, 1) for a plain run."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def bounds(n: int, rank: int, size: int) -> tuple[int, int]:
    """Rank `rank`'s contiguous slice [start, end) of n items: sizes differ by at most one."""
    return n * rank // size, n * (rank + 1) // size


def shard_path(output: str | Path, rank: int, size: int) -> Path:
    return Path(output) if size == 1 else Path(f"{output}.rank{rank}-of-{size}")


def process_group():
    """torch.distributed with a process group: the launcher's (accelerate or DeepSpeed started it for a
    training run) or a gloo group started here on first use."""
    from datetime import timedelta

    import torch.distributed as dist

    if not dist.is_initialized():
        # Ranks arrive when their slice is done, which after --resume can be hours apart: a long timeout.
        dist.init_process_group("gloo", timeout=timedelta(hours=24))
    return dist


def barrier() -> None:
    """Wait for every rank (nothing to do for one process)."""
    if world()[1] > 1:
        process_group().barrier()


def decided_by_rank_0(decide):
    """`decide()` run by rank 0 alone, its answer (or its GramError) given to every rank: several ranks
    deciding from files rank 0 is writing could decide differently, then wait in different collectives."""
    rank, size = world()
    if size == 1:
        return decide()
    from ..errors import GramError

    outcome, raised = [None], None
    if rank == 0:
        try:
            outcome = [("ok", decide())]
        except GramError as err:  # a refusal: rank 0 raises it, every other rank its line
            outcome, raised = [("error", str(err))], err
    process_group().broadcast_object_list(outcome, src=0)
    kind, value = outcome[0]
    if raised is not None:
        raise raised
    if kind == "error":
        raise GramError(value)
    return value


def check_shared(folder: str | Path, what: str) -> None:
    """Several processes write into `folder` and read each other's files there (slices merged by rank 0,
    checkpoints a resume reads back on every rank): it must be one folder for all of them, which across
    nodes means a shared filesystem. Rank 0 leaves a marker there and every rank looks for it (for up to
    10 s: a network filesystem can show a new file late); refused in one line on every rank otherwise."""
    import socket
    import time
    import uuid

    rank, size = world()
    if size == 1:
        return
    dist = process_group()
    token = [uuid.uuid4().hex if rank == 0 else None]
    dist.broadcast_object_list(token, src=0)
    folder = Path(folder)
    marker = folder / f".gram-shared-{token[0]}"
    if rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(socket.gethostname())
    dist.barrier()
    deadline = time.monotonic() + 10
    while not (seen := marker.name in (os.listdir(folder) if folder.is_dir() else ())) and time.monotonic() < deadline:
        time.sleep(0.2)
    views = [None] * size
    dist.all_gather_object(views, (rank, socket.gethostname(), seen))
    dist.barrier()
    if rank == 0:
        marker.unlink(missing_ok=True)
    blind = [f"rank {r} on {host}" for r, host, ok in views if not ok]
    if blind:
        from ..errors import ConfigError

        raise ConfigError(f"{what} {folder}: {', '.join(blind)} cannot see rank 0's files there; several nodes need "
                          "a folder on a filesystem every node mounts at the same path (docs/TRAINING.md, several nodes)")


def merged_rows(output: str | Path, size: int) -> list[dict]:
    """The rows of every rank's slice, in input order (rank 0's first)."""
    rows = []
    for rank in range(size):
        with open(shard_path(output, rank, size), encoding="utf-8") as f:
            rows.extend(json.loads(line) for line in f)
    return rows


def remove_shards(output: str | Path, size: int) -> None:
    for rank in range(size):
        shard_path(output, rank, size).unlink(missing_ok=True)


def leave_process_group() -> None:
    """The end of a multi-process run (training or sharded scoring): every rank waits at a barrier, then
    closes the process group (as torchtune's recipes end); nothing to do for one process. A rank that exits
    with its gloo group open can die of SIGABRT while the interpreter tears down (gloo's worker threads still
    hold tensors; pytorch/pytorch#179291); CI saw that once, in two-process training."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
