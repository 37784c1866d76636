"""Files in and out: JSON Lines read with errors that name file, line and field; every output written
atomically (a temporary file beside the target, then a rename), so no reader ever sees half a file.

    for line, row in read_jsonl("pairs.jsonl"): ...
    write_jsonl_atomic("out.jsonl", rows); write_json_atomic("results.json", obj)
    write_text_atomic("results.md", text); save_figure_atomic(fig, "accuracy.png")
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError


def parse_json(text: str | bytes, path, line: int | None = None):
    """One JSON document; whatever the parser refuses (bad syntax, nesting too deep for it, integers over
    Python's digit limit, text that is not UTF-8) is an InputError naming where."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputError(path, line, None, f"not UTF-8 text (byte 0x{err.object[err.start]:02x} at byte "
                             f"{err.start + 1}); convert the file to UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        where = f"at line {err.lineno} column {err.colno}" if line is None else f"at column {err.colno}"
        raise InputError(path, line if line is not None else err.lineno, None,
                         f"not valid JSON ({err.msg} {where})") from None
    except RecursionError:
        raise InputError(path, line, None, "not readable JSON: nested too deeply") from None
    except ValueError as err:  # e.g. an integer over the interpreter's digit limit
        raise InputError(path, line, None, f"not readable JSON ({err})") from None


def json_lines(lines: Iterable[bytes | str], path) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) for each non-blank line; bad JSON, text that is not UTF-8 and an empty
    file are errors naming the line."""
    seen = 0
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        value = parse_json(line, path, line_no)
        seen += 1
        yield line_no, value
    if seen == 0:
        raise InputError(path, None, None, "empty file: no JSON lines")


GZIP_MAGIC = b"\x1f\x8b"
MAX_RECORD_BYTES = 64 * 2**20  # one JSONL record at most: far more than any --max-length reads


def bounded_lines(f, path, limit: int = MAX_RECORD_BYTES) -> Iterator[bytes]:
    """The lines of a binary file, none held whole in memory past `limit` bytes: a longer line is an
    InputError naming it (a 200 MB line would otherwise be read, parsed and tokenized whole)."""
    line_no = 0
    while line := f.readline(limit + 1):
        line_no += 1
        if len(line) > limit and not line.endswith(b"\n"):
            raise InputError(path, line_no, None, f"a record of over {limit // 2**20} MiB, the limit for one line "
                             "(gram.io.MAX_RECORD_BYTES); shorten or split it")
        yield line


def check_input_path(path: str | Path, directory_ok: bool = False) -> Path:
    """`path` if it is a regular file (or, with `directory_ok`, a directory); a missing path, a directory
    and anything that is not a file (a FIFO, which blocks; a device such as /dev/zero, which never ends) are
    one-line InputErrors saying which."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(path, None, None, "no such file" + (" or directory" if directory_ok else "")) from None
    except OSError as err:
        raise InputError(path, None, None, f"cannot read: {err.strerror or err}") from None
    if stat.S_ISREG(mode) or directory_ok and stat.S_ISDIR(mode):
        return path
    if stat.S_ISDIR(mode):
        raise InputError(path, None, None, "is a directory; give one file (e.g. a .jsonl file in it)")
    kind = ("a FIFO (named pipe), which would block" if stat.S_ISFIFO(mode) else
            "a device, which may never end" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket")
    raise InputError(path, None, None, f"not a regular file but {kind}; save the input to a file first")


def not_jsonl(path: Path) -> str | None:
    """What a file given where JSONL is read is instead, from its name and first bytes: a parquet, CSV or
    TSV table, or a JSON array; None if it may be JSONL."""
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head.startswith(GZIP_MAGIC):
        return "a gzip-compressed file"
    if head.startswith(b"PAR1") or path.suffix == ".parquet":
        return "a parquet file"
    if path.suffix in (".csv", ".tsv"):
        return f"a {path.suffix[1:].upper()} file"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        return "a JSON array"
    return None


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object is an error. A
    table or a JSON array is refused at once, with the `gram data convert` command that reads it."""
    path = check_input_path(path)
    if (kind := not_jsonl(path)) == "a gzip-compressed file":
        raise InputError(path, None, None, f"{kind}, not JSONL text: decompress it first (gunzip -c {path} > "
                         "pairs.jsonl), or read it with `gram data convert --format gram` (which reads gzip)")
    if kind:
        raise InputError(path, None, None, f"{kind}, not JSONL (one JSON object per line): convert it first with "
                         f"`gram data convert --input {path} --format gram --output pairs.jsonl` (--format "
                         "preference for prompt/chosen/rejected, sharegpt-dpo for conversations)")
    try:
        with path.open("rb") as f:  # decoded line by line, so a bad byte is reported with its line
            for line_no, row in json_lines(bounded_lines(f, path), path):
                if not isinstance(row, dict):
                    raise InputError(path, line_no, None, f"expected a JSON object, got {type(row).__name__}")
                yield line_no, row
    except OSError as err:
        raise InputError(path, None, None, f"cannot read: {err.strerror or err}") from None


def check_text(value: str, path, line, field: str, record=None) -> str:
    """A string that is valid Unicode text: JSON's `\\ud800` escapes decode to lone surrogates, which no
    tokenizer and no UTF-8 file can hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InputError(path, line, field, f"holds a lone surrogate (U+{ord(value[err.start]):04X} at character "
                         f"{err.start}): not valid Unicode text", record) from None
    return value


# characters that str.splitlines (and so many line readers) take for line ends besides \n; written escaped
# so that one record is one line for every reader
LINE_BREAKS = str.maketrans({c: f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"})  # json.dumps escapes the rest


def finite(value):
    """`value` with every float that JSON cannot hold (NaN, Infinity) as None: what JSON readers call null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def json_text(obj, **kwargs) -> str:
    """json.dumps, valid JSON always: NaN and Infinity (which Python's reader accepts and writes, but JSON
    has not) written as null."""
    try:
        return json.dumps(obj, allow_nan=False, **kwargs)
    except ValueError:  # a non-finite float somewhere (the rare case: the fast path pays nothing)
        return json.dumps(finite(obj), allow_nan=False, **kwargs)


def json_line(row) -> str:
    """A row as one line of valid JSON (no newline; NaN as null): UTF-8 as is, or, for a row holding lone
    surrogates (which UTF-8 cannot encode), with \\u escapes, which read back to the same value. Characters
    other readers take for line ends (U+0085, U+2028, ...) are escaped too."""
    line = json_text(row, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json_text(row)
    return line.translate(LINE_BREAKS)


def check_prompt(value, path, line, field="prompt", record=None):
    """A prompt is a string or a non-empty list of {role, content} messages with string values."""
    if isinstance(value, str):
        return check_text(value, path, line, field, record)
    if not isinstance(value, list) or not value:
        got = "an empty list" if value == [] else type(value).__name__
        raise InputError(path, line, field, f"expected a string or a non-empty list of messages, got {got}", record)
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise InputError(path, line, f"{field}[{i}]", "expected an object with `role` and `content`", record)
        for key in ("role", "content"):
            if not isinstance(message.get(key), str):
                raise InputError(path, line, f"{field}[{i}].{key}", "missing or not a string", record)
            check_text(message[key], path, line, f"{field}[{i}].{key}", record)
    return value


@contextmanager
def atomic_path(path: str | Path):
    """A temporary path beside `path` to write to; renamed over `path` when the block ends without an
    error, removed when it fails (or is interrupted)."""
    with atomic_paths(path) as (tmp,):
        yield tmp


@contextmanager
def atomic_paths(*paths: str | Path):
    """Temporary paths beside each of `paths`, renamed over them together when the block ends without an
    error, all removed when it fails: two outputs (a train and a test split) are both written or neither.
    An OSError names the output it was writing (a full disk's has no file name of its own)."""
    paths = [Path(p) for p in paths]
    tmps = []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
            os.close(fd)
            tmps.append(Path(tmp))
        yield tmps
        for tmp, path in zip(tmps, paths):
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; outputs get the user's usual mode
        for tmp, path in zip(tmps, paths):
            os.replace(tmp, path)
    except OSError as err:  # named by the output, not by its temporary file
        if err.filename is not None and Path(err.filename) in tmps:
            raise OSError(err.errno, err.strerror, str(paths[tmps.index(Path(err.filename))])) from None
        if err.filename is None and len(paths) == 1:  # a write on a full disk names no file
            raise OSError(err.errno, err.strerror, str(paths[0])) from None
        raise
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict]) -> int:
    """All rows, one JSON object a line; returns how many were written."""
    with atomic_path(path) as tmp:
        return write_jsonl_to(tmp, rows)


def write_jsonl_pair_atomic(paths: tuple[str | Path, str | Path], rows: tuple[Iterable[dict], Iterable[dict]]
                            ) -> tuple[int, int]:
    """Two JSONL outputs (a train and a test split), both written or neither."""
    with atomic_paths(*paths) as tmps:
        return write_jsonl_to(tmps[0], rows[0]), write_jsonl_to(tmps[1], rows[1])


def write_jsonl_to(path: Path, rows: Iterable[dict]) -> int:
    """Rows written to `path` as they come (a write that fails, e.g. on a full disk, names `path`)."""
    count = 0
    try:
        with open(path, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json_line(row) + "\n")
                count += 1
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None
    return count


def write_json_atomic(path: str | Path, obj) -> None:
    """One JSON document (e.g. the reference repo's arrays)."""
    text = json_text(obj, ensure_ascii=False, indent=1)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: \\u escapes instead
        text = json_text(obj, indent=1)
    write_text_atomic(path, text + "\n")


def save_figure_atomic(fig, path: str | Path, dpi: int = 100) -> None:
    """A matplotlib figure saved as an image (format from the suffix) and closed."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
