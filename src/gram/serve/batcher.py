"""Dynamic batching for the server: every request that arrives while the model is busy joins the next
judge call, on one model thread. An asynchronous judge (its engine's operations are coroutines: vLLM's
async engine) batches continuously itself: each batch goes to it at once, beside the batches already in
it, in the event loop.

    batcher = Batcher(judge); batcher.start()          # inside the event loop
    scores = await batcher.compare(pairs)
"""

import asyncio
import ctypes
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..errors import Overloaded, ShuttingDown, TooLarge
from ..records import Pair
from ..scoring.base import CompareOne, PairScore, as_pairs

log = logging.getLogger(__name__)


@dataclass
class _Job:
    """One request's pairs; `scores` holds the rows of the chunks scored so far."""

    pairs: list[Pair]
    future: asyncio.Future
    scores: list = field(default_factory=list)

    @property
    def left(self) -> int:
        return len(self.pairs) - len(self.scores)

    def next_chunk(self, n: int) -> list[Pair]:
        return self.pairs[len(self.scores):len(self.scores) + n]


@dataclass
class Batcher:
    """Runs the judge on one model thread; concurrent requests' pairs share its calls.

    The worker takes the waiting jobs in order while they fit in `max_batch_pairs` pairs, drops jobs whose
    request was cancelled, scores the rest in one `compare_many`, and hands each job its rows. A job larger
    than a batch (a long ranking round) is scored a batch at a time, going to the back of the queue after
    each: requests that arrived meanwhile are served between its chunks, and a cancelled one stops at the
    next chunk. `refuse_waiting` (a shutdown's drain deadline) fails every waiting job and every new one.
    With an asynchronous judge (`judge.asynchronous`) the worker does not wait for a batch before sending the next, and
    a batch whose every request was cancelled is cancelled in the engine too."""

    judge: object
    max_batch_pairs: int = 64
    max_wait_ms: float = 2.0
    max_queue_pairs: int = 4096
    orders: str = "both"
    queue: list = field(default_factory=list)
    stats: dict = field(default_factory=lambda: {"batches": 0, "pairs_scored": 0, "jobs": 0, "jobs_dropped": 0,
                                                                "jobs_failed": 0, "most_batches_in_model": 0,
                                                                "batches_cancelled": 0})

    def __post_init__(self):
        self.model_thread = ThreadPoolExecutor(1, thread_name_prefix="gram-model")
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.refusing: str | None = None
        self.running: list[_Job] = []  # the jobs of the batches in the model (out of the queue meanwhile)
        self.continuous = bool(getattr(self.judge, "asynchronous", False))
        self.pair_seconds = 0.0  # seconds per pair of recent batches (a moving average), for Retry-After
        self.busy_with: tuple[str, float] | None = None  # other model work now running, and since when
        self.trimmed = True  # memory given back since the last batch
        self.in_engine: set[asyncio.Task] = set()

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        for task in list(self.in_engine):
            task.cancel()
        await asyncio.gather(*self.in_engine, return_exceptions=True)  # their prompts leave the engine first
        self.model_thread.shutdown(wait=True)

    @property
    def queued_pairs(self) -> int:
        jobs = [*self.queue, *self.running]  # waiting, or in the model
        return sum(j.left for j in jobs if not j.future.done())  # cancelled ones do not count

    async def compare(self, pairs: list[Pair]) -> list[PairScore]:
        if not pairs:
            return []
        if self.refusing:
            raise ShuttingDown(self.refusing)
        if len(pairs) > self.max_queue_pairs:
            raise TooLarge(f"{len(pairs)} pairs at once: over this server's queue of {self.max_queue_pairs} "
                           "pairs (--max-queue-pairs), however idle it is; send fewer")
        if self.queued_pairs + len(pairs) > self.max_queue_pairs:
            raise Overloaded(f"{self.queued_pairs} pairs are waiting; this server queues at most "
                             f"{self.max_queue_pairs}", retry_after=self.retry_after())
        job = _Job(pairs, asyncio.get_running_loop().create_future())
        self.queue.append(job)
        self._wake.set()
        return await job.future

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained: the pairs waiting at the recent seconds per pair
        (at least 1, at most 600)."""
        return max(1, min(600, math.ceil(self.queued_pairs * self.pair_seconds)))

    async def in_model_thread(self, what: str, fn, *args):
        """Run other model work (`what`: a policy's reference) on the model thread, between batches. It
        holds the model until it ends: /health shows it as `model_busy_with` meanwhile."""
        def run():
            self.busy_with = (what, time.monotonic())
            try:
                return fn(*args)
            finally:
                self.busy_with = None
        return await asyncio.get_running_loop().run_in_executor(self.model_thread, run)

    def refuse_waiting(self, reason: str) -> None:
        """Fail every waiting job with ShuttingDown(reason), and every later one; the batch in the model
        finishes."""
        self.refusing = reason
        for job in self.queue:
            if not job.future.done():
                job.future.set_exception(ShuttingDown(reason))
        self.queue.clear()

    def _take(self) -> list[tuple[_Job, list[Pair]]]:
        """The next batch: (job, its pairs in this batch) in queue order; only the first job may be split."""
        batch, n = [], 0
        while self.queue:
            job = self.queue[0]
            if job.future.done():  # cancelled: the client went away, or its deadline passed
                self.queue.pop(0)
                self.stats["jobs_dropped"] += 1
                continue
            if batch and n + job.left > self.max_batch_pairs:
                break
            self.queue.pop(0)
            chunk = job.next_chunk(self.max_batch_pairs - n)
            batch.append((job, chunk))
            n += len(chunk)
        return batch

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.max_wait_ms:
                await asyncio.sleep(self.max_wait_ms / 1000)  # let concurrent requests join this batch
            while batch := self._take():
                self.trimmed = False
                if not self.continuous:
                    await self._run_batch(batch)
                    continue
                task = asyncio.get_running_loop().create_task(self._run_batch(batch))
                self.in_engine.add(task)
                self.stats["most_batches_in_model"] = max(self.stats["most_batches_in_model"], len(self.in_engine))
                task.add_done_callback(self._engine_task_done)
                cancel_when_abandoned(task, [job for job, _ in batch])
            if not self.continuous and not self.trimmed and not self.queue and not self.running:  # idle: memory back
                self.trimmed = True
                await asyncio.get_running_loop().run_in_executor(self.model_thread, give_back_memory)

    def _engine_task_done(self, task: asyncio.Task) -> None:
        self.in_engine.discard(task)
        if task.cancelled():  # every request of the batch left: its prompts were aborted in the engine
            self.stats["batches_cancelled"] += 1

    async def _run_batch(self, batch: list[tuple[_Job, list[Pair]]]) -> None:
        """Score one batch, then put each job with pairs left behind the requests that came meanwhile."""
        jobs = [job for job, _ in batch]
        self.running.extend(jobs)
        if not self.continuous:
            self.stats["most_batches_in_model"] = 1
        try:
            await self._run(batch)
        finally:
            for job in jobs:
                self.running.remove(job)
        for job in jobs:
            if job.left and not job.future.done():
                if self.refusing:  # the drain deadline passed while its chunk was scored
                    job.future.set_exception(ShuttingDown(self.refusing))
                else:
                    self.queue.append(job)
                    self._wake.set()

    async def _run(self, batch: list[tuple[_Job, list[Pair]]]) -> None:
        """Score the batch's pairs in one call. If that fails, each job's chunk is scored on its own, so a
        request the judge cannot score fails alone, never its batch neighbours."""
        loop = asyncio.get_running_loop()
        pairs = [p for _, chunk in batch for p in chunk]
        start = time.perf_counter()
        try:
            if self.continuous:
                scores = await self.judge.acompare_many(pairs, orders=self.orders)
            else:
                scores = await loop.run_in_executor(self.model_thread, self._score, pairs)
            if len(scores) != len(pairs):
                raise RuntimeError(f"the judge returned {len(scores)} scores for {len(pairs)} pairs")
        except Exception as e:
            if len(batch) > 1:
                for job, chunk in batch:
                    if not job.future.done():
                        await self._run([(job, chunk)])
                return
            job = batch[0][0]
            log.warning("scoring a request of %d pairs failed: %s", len(job.pairs), e)
            if not job.future.done():
                job.future.set_exception(e)
            self.stats["jobs_failed"] += 1
            return
        self.stats["batches"] += 1
        self.stats["pairs_scored"] += len(pairs)
        took = (time.perf_counter() - start) / len(pairs)
        self.pair_seconds = took if not self.pair_seconds else 0.8 * self.pair_seconds + 0.2 * took
        start = 0
        for job, chunk in batch:
            job.scores.extend(scores[start:start + len(chunk)])
            start += len(chunk)
            if not job.left and not job.future.done():
                job.future.set_result(job.scores)
                self.stats["jobs"] += 1

    def _score(self, pairs):
        return self.judge.compare_many(pairs, orders=self.orders)


def give_back_memory() -> None:
    """Return the heap's free pages to the system (glibc's malloc_trim; elsewhere nothing). After a burst
    of large batches the freed activations otherwise stay in the server's RSS for good (measured: 759 MB
    idle before a load, 1,180 MB idle after it)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def cancel_when_abandoned(task: asyncio.Task, jobs: list[_Job]) -> None:
    """Cancel `task` (its prompts leave the engine) once every job it scores has been cancelled."""
    def check(_):
        if all(job.future.cancelled() for job in jobs):
            task.cancel()
    for job in jobs:
        job.future.add_done_callback(check)


class BatchedJudge(CompareOne):
    """A Scorer whose `compare_many`, called from a worker thread, is routed through the batcher, so that
    ranking rounds share forward passes with other requests. `cancel` ends a ranking whose client left:
    its waiting round leaves the queue and no further round starts. (Orders and batch size are the
    server's: every pair is scored with the batcher's orders.)"""

    def __init__(self, batcher: Batcher, loop: asyncio.AbstractEventLoop):
        self.batcher, self.loop = batcher, loop
        self.stopped = threading.Event()
        self.pending: set = set()

    def compare_many(self, pairs, orders: str = "both", batch_size: int | None = None, progress=None
                     ) -> list[PairScore]:
        if orders != self.batcher.orders:
            raise ValueError(f"this server scores {self.batcher.orders!r} orders, not {orders!r}")
        if self.stopped.is_set():
            raise asyncio.CancelledError()
        pairs = as_pairs(pairs)
        future = asyncio.run_coroutine_threadsafe(self.batcher.compare(pairs), self.loop)
        self.pending.add(future)
        try:
            scores = future.result()
        finally:
            self.pending.discard(future)
        if progress is not None:
            progress.update(len(pairs))
        return scores

    def cancel(self) -> None:
        self.stopped.set()
        for future in list(self.pending):
            future.cancel()
