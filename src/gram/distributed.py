"""The end of a multi-process run, shared by training and sharded scoring."""

from __future__ import annotations


def leave_process_group() -> None:
    """Every rank waits at a barrier, then closes the process group (as torchtune's recipes end); nothing
    to do for one process. A rank that exits with its gloo group open can die of SIGABRT while the
    interpreter tears down (gloo's worker threads still hold tensors; pytorch/pytorch#179291); CI saw that
    once, in two-process training."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
