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


def barrier() -> None:
    """Wait for every rank (a gloo process group, started on first use; nothing to do for one process)."""
    rank, size = world()
    if size == 1:
        return
    from datetime import timedelta

    import torch.distributed as dist

    if not dist.is_initialized():
        # Ranks arrive when their slice is done, which after --resume can be hours apart: a long timeout.
        dist.init_process_group("gloo", timeout=timedelta(hours=24))
    dist.barrier()


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
