"""What every reader shares: raw items with their location, field access that errors precisely, and the
registry of formats."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import (
    GZIP_MAGIC,
    MAX_RECORD_BYTES,
    InputError,
    bounded_lines,
    check_input_path,
    check_text,
    json_lines,
    parse_json,
)
from ..records import Record


@dataclass
class Item:
    """One raw object of an input file: JSONL items carry a line number, array items an index."""

    path: Path
    index: int
    raw: Any
    line: int | None = None
    context: dict = field(default_factory=dict)  # what the format's reader knows beyond the item itself

    def error(self, field: str | None, problem: str) -> InputError:
        return InputError(self.path, self.line, field, problem, None if self.line is not None else self.index)

    def obj(self) -> dict:
        if not isinstance(self.raw, dict):
            raise self.error(None, f"expected a JSON object, got {type(self.raw).__name__}")
        return self.raw

    def text(self, key: str, source: dict | None = None, label: str | None = None) -> str:
        """A required string field (of `source`, default the item itself)."""
        obj = self.obj() if source is None else source
        if key not in obj:
            raise self.error(label or key, "missing")
        value = obj[key]
        if not isinstance(value, str):
            raise self.error(label or key, f"expected a string, got {type(value).__name__}")
        return check_text(value, self.path, self.line, label or key, None if self.line is not None else self.index)

    def value(self, key: str, types: type | tuple, source: dict | None = None, label: str | None = None):
        obj = self.obj() if source is None else source
        if key not in obj:
            raise self.error(label or key, "missing")
        value = obj[key]
        if not isinstance(value, types) or isinstance(value, bool) and bool not in _as_tuple(types):
            names = "/".join(t.__name__ for t in _as_tuple(types))
            raise self.error(label or key, f"expected {names}, got {type(value).__name__}")
        return value


def _as_tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def input_files(path: Path, patterns: tuple[str, ...]) -> list[Path]:
    """`path` itself, or the files under a directory matching `patterns`, in a stable order."""
    if check_input_path(path, directory_ok=True).is_file():
        return [path]
    found = sorted({f for pattern in patterns for f in path.rglob(pattern) if f.is_file()})
    if not found:
        raise InputError(path, None, None, f"no input files matching {', '.join(patterns)} in this directory")
    return found


def is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(2) == GZIP_MAGIC
    except OSError:
        return False


def read_json_file(path: Path) -> Iterator[Item]:
    """Items of a .json array (or object), a .jsonl file, or a gzipped one (by its name or its first bytes)."""
    opener = gzip.open if path.suffix == ".gz" or is_gzip(path) else open
    name = path.name[:-3] if path.suffix == ".gz" else path.name
    try:
        with opener(path, "rb") as f:
            if name.endswith(".jsonl"):
                for count, (line_no, raw) in enumerate(json_lines(bounded_lines(f, path), path)):
                    yield Item(path, count, raw, line_no)
                return
            data = parse_json(f.read(), path)
    except (OSError, EOFError) as err:
        raise InputError(path, None, None, f"cannot read: {err}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise InputError(path, None, None, f"expected a JSON array of objects, got {type(data).__name__}")
    if not data:
        raise InputError(path, None, None, "empty file: the JSON array holds no records")
    for i, raw in enumerate(data):
        yield Item(path, i, raw)


def read_csv_file(path: Path) -> Iterator[Item]:
    """Rows of a CSV (or .tsv) file with a header line, as items with their line numbers. Every value is
    a string; an empty cell is a missing field (an empty `label`: an unlabeled pair)."""
    csv.field_size_limit(MAX_RECORD_BYTES)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ",")
            count, line = 0, 2
            for count, row in enumerate(reader):
                if None in row:
                    raise InputError(path, line, None, f"{len(row[None]) + len(reader.fieldnames)} cells for "
                                     f"{len(reader.fieldnames)} columns")
                yield Item(path, count, {k: v for k, v in row.items() if v not in ("", None)}, line)
                line = reader.line_num + 1
            if reader.fieldnames is None:
                raise InputError(path, None, None, "empty file: no header line")
    except UnicodeDecodeError as err:
        raise InputError(path, None, None, f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    except csv.Error as err:
        raise InputError(path, None, None, f"not readable as CSV: {err}") from None


def json_items(patterns: tuple[str, ...] = ("*.json", "*.jsonl", "*.jsonl.gz")):
    def items(path: Path) -> Iterator[Item]:
        for f in input_files(path, patterns):
            yield from read_json_file(f)
    return items


@dataclass
class Format:
    name: str
    kind: str  # "pairs" or "sets": what it produces
    help: str
    parse: Callable[[Item], list[Record]]
    items: Callable[[Path], Iterator[Item]] = field(default_factory=json_items)
    group: bool = False  # merge one-response sets that share a prompt into one set (outputs across models)


FORMATS: dict[str, Format] = {}


def register(name: str, kind: str, help: str, items=None, group: bool = False):
    def wrap(parse):
        FORMATS[name] = Format(name, kind, help, parse, items or json_items(), group)
        return parse
    return wrap


def messages(item: Item, value, label: str, roles: dict | None = None) -> list[dict]:
    """A list of chat messages as {role, content}; `roles` renames roles (e.g. human -> user)."""
    if not isinstance(value, list) or not value:
        raise item.error(label, "expected a non-empty list of messages")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise item.error(f"{label}[{i}]", "expected an object")
        role_key = "role" if "role" in m else "from"
        content_key = "content" if "content" in m else "value"
        role = item.text(role_key, m, f"{label}[{i}].{role_key}")
        content = item.text(content_key, m, f"{label}[{i}].{content_key}")
        out.append({"role": (roles or {}).get(role, role), "content": content})
    return out
