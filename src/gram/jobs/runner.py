"""The one scoring loop behind `gram score` and `gram eval`: resumable, sharded, written as it goes.

Pairs are scored in fixed chunks (chunk_size: SCORE_CHUNK pairs on an accelerator, CPU_SCORE_CHUNK on the
CPU, where a chunk of 64 long pairs can take minutes) from the start of this process's slice, each chunk
appended to OUTPUT.partial and fsynced (gram.jobs.partial), so a killed run loses at most one chunk and
a resumed run on the same device sends the judge the same batches as a clean one (identical numbers). Under torchrun or
`accelerate launch` each rank scores one contiguous slice and rank 0 merges them in input order
(gram.jobs.sharding).

    run = score_rows(judge, pairs, rows, "scores.jsonl", settings, resume=True)
    run.rows        # every input row plus score_a, score_b, p_a_ab, p_a_ba, truncated (None off rank 0)
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..io import write_jsonl_atomic
from ..scoring.base import PairScore
from . import sharding
from .partial import PartialOutput

SCORE_CHUNK = 64  # pairs scored, then appended to the output, at a time
CPU_SCORE_CHUNK = 8  # the same on the CPU: an interrupted run keeps all but the last few pairs


def chunk_size(judge) -> int:
    """Pairs scored, then written, at a time: the judge's own `score_chunk` where it has one (an engine
    that batches continuously wants many at once), else by its device."""
    if getattr(judge, "score_chunk", None):
        return judge.score_chunk
    device = getattr(judge, "device", None)
    return CPU_SCORE_CHUNK if device is not None and getattr(device, "type", str(device)) == "cpu" else SCORE_CHUNK


class WholePairs:
    """A progress bar advanced in whole pairs: a judge advances it by fractions of a pair (one presentation
    order at a time), which a bar would show as `3.5/6`."""

    def __init__(self, bar):
        self.bar, self.done = bar, float(bar.n)

    def update(self, pairs: float) -> None:
        self.done += pairs
        whole = int(self.done + 1e-9) - self.bar.n
        if whole > 0:
            self.bar.update(whole)


@dataclass
class ScoringRun:
    rows: list[dict] | None  # the output rows in input order; None on ranks other than 0
    seconds: float  # this process's scoring time in this run
    resumed: int  # rows kept from an interrupted run (this process's slice)
    scored: int  # rows this process scored in this run
    processes: int

    @property
    def scores(self) -> list[PairScore]:
        return [PairScore.from_fields(r) for r in self.rows or []]


def score_rows(judge, pairs: list, rows: list[dict], output: str | Path, settings: dict, *, resume: bool,
               orders: str = "both", desc: str = "scoring", quiet: bool = False) -> ScoringRun:
    """Score `pairs` (what the judge reads) and write each of `rows` (what the output keeps, one per
    pair) with its score fields to `output`. `settings` identify the job: `resume` goes on only from a
    partial output written with the same settings for the same input rows."""
    from tqdm import tqdm

    rank, size = sharding.world()
    sharding.check_shared(Path(output).resolve().parent, "the output folder")  # rank 0 merges the slices there
    lo, hi = sharding.bounds(len(pairs), rank, size)  # this process's slice (all of it without a launcher)
    chunk = chunk_size(judge)
    with PartialOutput(sharding.shard_path(output, rank, size), {**settings, "slice": [lo, hi]}, resume,
                        chunk=chunk) as out:
        out.check(rows[lo:hi], produced=PairScore.FIELDS)
        resumed = out.done
        start = time.perf_counter()
        with tqdm(total=hi - lo, initial=out.done, unit="pair", file=sys.stderr, desc=desc,
                  disable=quiet or rank > 0) as bar:
            for first in range(lo + out.done, hi, chunk):
                last = min(first + chunk, hi)
                scores = judge.compare_many(pairs[first:last], orders=orders, progress=WholePairs(bar))
                out.append([{**row, **s.fields()} for row, s in zip(rows[first:last], scores)])
        seconds = time.perf_counter() - start
        out.finish()
    run = ScoringRun(out.rows, seconds, resumed, hi - lo - resumed, size)
    if size == 1:
        return run
    sharding.barrier()
    run.rows = None
    if rank == 0:
        run.rows = sharding.merged_rows(output, size)
        write_jsonl_atomic(output, run.rows)
        sharding.remove_shards(output, size)
    return run
