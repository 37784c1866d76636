"""Prompt overlap between two sets of records: proof that a split does not leak.

Prompts are compared after lower-casing and collapsing whitespace (conversations as transcripts)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..records import Record, prompt_key
from ..templates import render_prompt


@dataclass
class Overlap:
    prompts_a: int
    prompts_b: int
    shared: int
    examples: list[str]

    @property
    def share_of_b(self) -> float:
        return self.shared / self.prompts_b if self.prompts_b else 0.0


def prompt_overlap(a: Iterable[Record], b: Iterable[Record], examples: int = 5) -> Overlap:
    keys_a = {prompt_key(r.prompt) for r in a}
    keys_b, shown = {}, []
    for r in b:
        keys_b.setdefault(prompt_key(r.prompt), render_prompt(r.prompt))
    shared = [k for k in keys_b if k in keys_a]
    shown = [keys_b[k][:120] for k in shared[:examples]]
    return Overlap(len(keys_a), len(keys_b), len(shared), shown)
