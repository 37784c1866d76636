"""Files in and out: JSON Lines read with errors that name file, line and field; every output written
atomically (a temporary file beside the target, then a rename), so no reader ever sees half a file.

    for line, row in read_jsonl("pairs.jsonl"): ...
    write_jsonl_atomic("out.jsonl", rows); write_json_atomic("results.json", obj)
    write_text_atomic("results.md", text); save_figure_atomic(fig, "accuracy.png")
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class InputError(ValueError):
    """Bad input, located: `file:line: field: problem` (JSONL) or `file: record N: field: problem`
    (records of a JSON array or a table, counted from 0)."""

    def __init__(self, path, line: int | None, field: str | None, problem: str, record: int | None = None):
        where = f"{path}" + (f":{line}" if line is not None else "") + (f": record {record}" if record is not None else "")
        super().__init__(f"{where}: {field + ': ' if field else ''}{problem}")
        self.path, self.line, self.record, self.field, self.problem = str(path), line, record, field, problem

    @property
    def location(self) -> str:
        return f"{self.path}" + (f":{self.line}" if self.line is not None else "") + (
            f": record {self.record}" if self.record is not None else "")


def json_lines(lines: Iterable[str], path) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) for each non-blank line; bad JSON and an empty file are errors."""
    seen = 0
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(path, line_no, None, f"not valid JSON ({err.msg} at column {err.colno})") from None
        seen += 1
        yield line_no, value
    if seen == 0:
        raise InputError(path, None, None, "empty file: no JSON lines")


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object is an error."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, None, "no such file")
    with path.open(encoding="utf-8") as f:
        for line_no, row in json_lines(f, path):
            if not isinstance(row, dict):
                raise InputError(path, line_no, None, f"expected a JSON object, got {type(row).__name__}")
            yield line_no, row


def check_prompt(value, path, line, field="prompt", record=None):
    """A prompt is a string or a non-empty list of {role, content} messages with string values."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list) or not value:
        got = "an empty list" if value == [] else type(value).__name__
        raise InputError(path, line, field, f"expected a string or a non-empty list of messages, got {got}", record)
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise InputError(path, line, f"{field}[{i}]", "expected an object with `role` and `content`", record)
        for key in ("role", "content"):
            if not isinstance(message.get(key), str):
                raise InputError(path, line, f"{field}[{i}].{key}", "missing or not a string", record)
    return value


@contextmanager
def atomic_path(path: str | Path):
    """A temporary path beside `path` to write to; renamed over `path` when the block ends without an
    error, removed when it fails (or is interrupted)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; outputs get the user's usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict]) -> int:
    """All rows, one JSON object a line; returns how many were written."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_json_atomic(path: str | Path, obj) -> None:
    """One JSON document (e.g. the reference repo's arrays)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def save_figure_atomic(fig, path: str | Path, dpi: int = 100) -> None:
    """A matplotlib figure saved as an image (format from the suffix) and closed."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
