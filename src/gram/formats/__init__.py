"""One reader per source format, all producing gram.records; `read` drives them.

    result = read("rmb-pairwise", Path("../shared/data/rmb/RMB_dataset/Pairwise_set"))
    result.records, result.rejects, result.items

A bad item raises an InputError naming file, line or record, and field; with `skip_bad` it is kept in
`rejects` with its reason instead, and reading goes on. File-level errors (unreadable JSON, an empty file)
always raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..records import Record, ResponseSet, prompt_key
from . import (  # noqa: F401  (each module registers its formats)
    alpaca_eval,
    alpaca_farm,
    arena_hard,
    gram_reference,
    hh_rlhf,
    hhh,
    judgebench,
    llmbar,
    native,
    pandalm,
    preference,
    rewardbench,
    rewardbench2,
    rm_bench,
    rmb,
    sharegpt,
)
from .base import FORMATS, Format


@dataclass
class ReadResult:
    records: list[Record] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)  # {"where", "field", "problem", "item"}
    items: int = 0  # raw items read


def get_format(name: str) -> Format:
    if name not in FORMATS:
        raise InputError("--format", None, None, f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}")
    return FORMATS[name]


def read(name: str, path: str | Path, skip_bad: bool = False) -> ReadResult:
    fmt = get_format(name)
    result = ReadResult()
    for item in fmt.items(Path(path)):
        result.items += 1
        try:
            result.records.extend(fmt.parse(item))
        except InputError as err:
            if not skip_bad:
                raise
            result.rejects.append({"where": err.location, "field": err.field, "problem": err.problem,
                                   "item": item.raw})
    if fmt.group:
        result.records = group_sets(result.records)
    return result


def group_sets(records: list[ResponseSet]) -> list[ResponseSet]:
    """Merge sets that share a prompt (by id where the source has one) into one set, first-seen order."""
    merged: dict[tuple, ResponseSet] = {}
    for r in records:
        key = (r.source, r.meta.get("id") or prompt_key(r.prompt))
        if key in merged:
            merged[key].responses.extend(r.responses)
            merged[key].models.extend(r.models)
            for name, value in r.meta.items():  # per-response lists (e.g. scores) follow the responses
                if isinstance(value, list) and isinstance(merged[key].meta.get(name), list):
                    merged[key].meta[name] = merged[key].meta[name] + value
        else:
            merged[key] = ResponseSet(r.prompt, list(r.responses), list(r.models), r.best, r.source, r.category,
                                      dict(r.meta))
    return list(merged.values())
