"""Resumable file jobs (`gram score`, `gram eval`, `gram rank`, `gram bon`).

Finished rows are appended to OUTPUT.partial, flushed and fsynced a chunk at a time, and the file is
renamed to OUTPUT when the job ends, so OUTPUT is always whole. The job's settings sit beside it in
OUTPUT.partial.json. After a kill, `--resume` keeps the partial file's rows (a torn last line, cut short by
the kill, is dropped, and so is an incomplete chunk, so the batches of a resumed run are those of a clean
one and its numbers are identical), checks that they were written with the same settings for the same
input rows, and goes on after them.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..errors import InputError
from ..io import finite, json_line, write_json_atomic, write_jsonl_atomic
from . import lock

log = logging.getLogger(__name__)


class PartialOutput:
    """Use as a context manager: it holds OUTPUT.lock from the start (one writer per output) to the end."""

    def __init__(self, output: str | Path, settings: dict, resume: bool, chunk: int = 1):
        self.output = Path(output)
        self.lock = lock.acquire(self.output)
        try:
            self._start(settings, resume, chunk)
        except BaseException:
            lock.release(self.lock)
            raise

    def __enter__(self) -> PartialOutput:
        return self

    def __exit__(self, *exc) -> None:
        self._close_file()
        lock.release(self.lock)

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _start(self, settings: dict, resume: bool, chunk: int) -> None:
        self.partial = self.output.with_name(self.output.name + ".partial")
        self.meta = self.output.with_name(self.output.name + ".partial.json")
        self.settings = json.loads(json.dumps(settings, default=str))
        self.chunk = chunk
        self.rows: list[dict] = []
        self._file = None
        if resume and self.partial.exists():
            saved = json.loads(self.meta.read_text()) if self.meta.exists() else None
            if saved != self.settings:
                changed = sorted(k for k in {**(saved or {}), **self.settings}
                                 if (saved or {}).get(k) != self.settings.get(k))
                raise InputError(self.partial, None, None, f"written with other settings ({', '.join(changed)}); "
                                 "run without --resume to start over")
            self.rows = self._read_rows()
        else:  # a fresh start (with --resume too when nothing was left: a finished OUTPUT is redone)
            self.partial.unlink(missing_ok=True)
            self.output.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.meta, self.settings)

    @property
    def done(self) -> int:
        return len(self.rows)

    def check(self, inputs: list[dict], produced: tuple[str, ...] = ()) -> None:
        """The rows already written must be the outputs of the first input rows: same input fields (but
        for the `produced` ones, which the job itself writes over)."""
        if len(self.rows) > len(inputs):
            raise InputError(self.partial, None, None, f"holds {len(self.rows)} rows but the input has only "
                             f"{len(inputs)}; run without --resume to start over")
        for i, (done, want) in enumerate(zip(self.rows, inputs), 1):
            for key, value in want.items():
                if key not in produced and finite(done.get(key)) != finite(value):  # NaN reads back as null
                    raise InputError(self.partial, i, key, "differs from the same row of the input (the input "
                                     "changed since the interrupted run); run without --resume to start over")

    def append(self, rows: list[dict]) -> None:
        if self._file is None:
            self._file = open(self.partial, "a", encoding="utf-8")
        self._file.write("".join(json_line(r) + "\n" for r in rows))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.rows.extend(rows)

    def finish(self) -> None:
        self._close_file()
        if not self.partial.exists():  # nothing to do at all: still a whole (empty) file
            write_jsonl_atomic(self.partial, self.rows)
        os.replace(self.partial, self.output)
        self.meta.unlink(missing_ok=True)

    def _read_rows(self) -> list[dict]:
        data = self.partial.read_bytes()
        whole = data[:data.rfind(b"\n") + 1]  # a kill mid-write leaves a last line without its newline
        rows = []
        for i, line in enumerate(whole.split(b"\n")[:-1], 1):
            try:
                row = json.loads(line)
            except ValueError as e:
                raise InputError(self.partial, i, None, f"not valid JSON ({e}): the file is damaged; run without "
                                 "--resume to start over") from None
            if not isinstance(row, dict):
                raise InputError(self.partial, i, None, "not a JSON object: the file is damaged")
            rows.append(row)
        keep = len(rows) - len(rows) % self.chunk
        if keep != len(rows) or len(whole) != len(data):
            log.warning("%s: keeping %d whole chunks of rows (%d rows), dropping %d rows and %d stray bytes",
                        self.partial, keep // self.chunk, keep, len(rows) - keep, len(data) - len(whole))
            rows = rows[:keep]
            write_jsonl_atomic(self.partial, rows)
        return rows
