"""The record types every reader produces and everything downstream consumes.

    Pair             what a judge scores: a prompt and two responses, nothing else
    PreferencePair   a prompt, two responses, which is preferred ("a", "b", "tie", or None: unlabeled)
    ResponseSet      a prompt with n responses (the model that wrote each, where known; the best, where known)

A prompt is a string or a conversation: a list of {"role", "content"} messages whose last message is
the user's. As JSONL rows, pairs use the `gram score` input fields, so files flow between commands:

    {"prompt": ..., "response_a": ..., "response_b": ..., "label": "a", "source": "rmb", "category": ..., "meta": {...}}
    {"prompt": ..., "responses": [...], "models": [...], "best": 0, "source": ..., "category": ..., "meta": {...}}
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from .errors import InputError
from .io import check_prompt, check_text
from .templates import render_prompt

LABELS = ("a", "b", "tie")
Prompt = str | list[dict]


def normalize(text: str) -> str:
    """Case- and whitespace-insensitive form used for deduplication and overlap checks."""
    return " ".join(text.lower().split())


def prompt_key(prompt: Prompt) -> str:
    return hashlib.sha1(normalize(render_prompt(prompt)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Pair:
    prompt: Prompt
    response_a: str
    response_b: str


def pair_from_row(row: dict, path, line: int | None, record: int | None = None) -> Pair:
    """The `gram score` input fields of one row: prompt, response_a, response_b. A row of another known
    shape (chosen/rejected, ShareGPT conversations) is refused with the command that converts it."""
    try:
        prompt = check_prompt(row.get("prompt"), path, line, record=record)
        return Pair(prompt, _string(row, "response_a", path, line, record),
                    _string(row, "response_b", path, line, record))
    except InputError as err:
        if fmt := foreign_format(row):
            raise InputError(path, line, err.field, f"{err.problem}; this row is a {fmt} row: convert the file "
                             f"first with `gram data convert --input {path} --format {fmt} --output pairs.jsonl`",
                             record) from None
        raise


def foreign_format(row: dict) -> str | None:
    """The `gram data convert --format` that reads a row of this shape, when it is not gram's own."""
    if "response_a" in row and "response_b" in row:
        return None
    if "conversations" in row:
        return "sharegpt-dpo"
    if "chosen" in row and "rejected" in row:
        return "preference"
    return None


@dataclass
class PreferencePair:
    prompt: Prompt
    response_a: str
    response_b: str
    label: str | None = None  # "a", "b", "tie"; None for an unlabeled pair
    source: str = ""
    category: str = ""
    meta: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # the row's other fields (an `id`, ...), written back as they came

    @classmethod
    def from_preference(cls, prompt: Prompt, chosen: str, rejected: str, chosen_first: bool | None = None,
                        **kwargs) -> PreferencePair:
        """A labeled pair from (chosen, rejected). Unless told, the chosen response goes first or second
        by a hash of the content: reproducible, and about half the labels are `b`, so a judge that always
        answers `A` scores at chance even with one presentation order."""
        if chosen_first is None:
            digest = hashlib.sha1("\x00".join([render_prompt(prompt), chosen, rejected]).encode("utf-8")).digest()
            chosen_first = digest[0] % 2 == 0
        if chosen_first:
            return cls(prompt, chosen, rejected, "a", **kwargs)
        return cls(prompt, rejected, chosen, "b", **kwargs)

    @property
    def chosen(self) -> str | None:
        return {"a": self.response_a, "b": self.response_b}.get(self.label)

    @property
    def rejected(self) -> str | None:
        return {"a": self.response_b, "b": self.response_a}.get(self.label)

    def swapped(self) -> PreferencePair:
        label = {"a": "b", "b": "a"}.get(self.label, self.label)
        return PreferencePair(self.prompt, self.response_b, self.response_a, label, self.source, self.category,
                              dict(self.meta), dict(self.extra))

    def to_row(self) -> dict:
        return with_extra({"prompt": self.prompt, "response_a": self.response_a, "response_b": self.response_b,
                           "label": self.label, "source": self.source, "category": self.category,
                           "meta": self.meta}, self.extra)

    @classmethod
    def from_row(cls, row: dict, path, line: int | None = None, record: int | None = None) -> PreferencePair:
        prompt = check_prompt(row.get("prompt"), path, line, record=record)
        a = _string(row, "response_a", path, line, record)
        b = _string(row, "response_b", path, line, record)
        label = row.get("label")
        if label is not None and label not in LABELS:
            raise InputError(path, line, "label", f"expected one of a, b, tie or null, got {label!r}", record)
        return cls(prompt, a, b, label, _optional(row, "source", path, line, record),
                   _optional(row, "category", path, line, record), _meta(row, path, line, record),
                   extra_fields(row, PAIR_FIELDS))


@dataclass
class ResponseSet:
    prompt: Prompt
    responses: list[str]
    models: list[str | None] = field(default_factory=list)
    best: int | None = None  # index of the best response, where known (best-of-n sets)
    source: str = ""
    category: str = ""
    meta: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.models:
            self.models = [None] * len(self.responses)

    def to_row(self, defaults: bool = True) -> dict:
        """The set as a row; `defaults=False` leaves out the fields at their defaults (no models, best,
        source, category or meta), which a row that never had them does not gain (`gram rank`)."""
        row = {"prompt": self.prompt, "responses": self.responses, "models": self.models, "best": self.best,
               "source": self.source, "category": self.category, "meta": self.meta}
        if not defaults:
            unset = {"models": not any(m is not None for m in self.models), "best": self.best is None,
                     "source": not self.source, "category": not self.category, "meta": not self.meta}
            row = {k: v for k, v in row.items() if not unset.get(k)}
        return with_extra(row, self.extra)

    @classmethod
    def from_row(cls, row: dict, path, line: int | None = None, record: int | None = None) -> ResponseSet:
        prompt = check_prompt(row.get("prompt"), path, line, record=record)
        responses = row.get("responses")
        if not isinstance(responses, list) or not all(isinstance(r, str) for r in responses):
            raise InputError(path, line, "responses", "expected a list of strings", record)
        for i, r in enumerate(responses):
            check_text(r, path, line, f"responses[{i}]", record)
        models = row.get("models") or [None] * len(responses)
        if not isinstance(models, list) or len(models) != len(responses):
            raise InputError(path, line, "models", "expected a list as long as `responses`", record)
        best = row.get("best")
        if best is not None and (not isinstance(best, int) or not 0 <= best < len(responses)):
            raise InputError(path, line, "best", f"expected an index into `responses` or null, got {best!r}",
                             record)
        return cls(prompt, responses, models, best, _optional(row, "source", path, line, record),
                   _optional(row, "category", path, line, record), _meta(row, path, line, record),
                   extra_fields(row, SET_FIELDS))


Record = PreferencePair | ResponseSet
PAIR_FIELDS = ("prompt", "response_a", "response_b", "label", "source", "category", "meta")
SET_FIELDS = ("prompt", "responses", "models", "best", "source", "category", "meta")


def extra_fields(row: dict, known: tuple[str, ...]) -> dict:
    """A row's fields beyond the record's own: kept, so `gram data` writes them back instead of dropping them."""
    return {k: v for k, v in row.items() if k not in known}


def with_extra(row: dict, extra: dict) -> dict:
    return {**row, **{k: v for k, v in extra.items() if k not in row}} if extra else row


def record_from_row(row: dict, path, line: int | None = None, record: int | None = None) -> Record:
    """A pair row or a set row, told apart by their fields."""
    if "responses" in row:
        return ResponseSet.from_row(row, path, line, record)
    return PreferencePair.from_row(row, path, line, record)


def _string(row, key, path, line, record) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        problem = "missing" if key not in row else f"expected a string, got {type(value).__name__}"
        raise InputError(path, line, key, problem, record)
    return check_text(value, path, line, key, record)


def _optional(row, key, path, line, record) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(path, line, key, f"expected a string, got {type(value).__name__}", record)
    return check_text(value, path, line, key, record)


def _meta(row, path, line, record) -> dict:
    value = row.get("meta")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(path, line, "meta", f"expected an object, got {type(value).__name__}", record)
    return value
