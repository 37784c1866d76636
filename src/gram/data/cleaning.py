"""Cleaning filters the GRAM reference applied to its training data, and deduplication.

Every dropped pair is counted under its reason; nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from ..records import PreferencePair, normalize, prompt_key
from ..templates import judge_lengths, render_prompt

# U+FFFD (a decoder gave up), C0 controls other than tab / newline / carriage return, and the classic
# UTF-8-read-as-Latin-1 mojibake ("Ã©", "â€™").
_GARBLED = re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f]|Ã[\x80-\xbf]|â€")


def is_garbled(text: str) -> bool:
    return bool(_GARBLED.search(text))


def problem(pair: PreferencePair) -> str | None:
    """Why a pair should not be trained on (its length apart: see clean), or None."""
    if not pair.response_a.strip() or not pair.response_b.strip():
        return "empty response"
    if normalize(pair.response_a) == normalize(pair.response_b):
        return "identical responses"
    if not render_prompt(pair.prompt).strip():
        return "empty prompt"
    if any(is_garbled(t) for t in (render_prompt(pair.prompt), pair.response_a, pair.response_b)):
        return "garbled text"
    return None


def clean(pairs: Iterable[PreferencePair], tokenizer=None, max_tokens: int | None = None
          ) -> tuple[list[PreferencePair], Counter]:
    """The pairs without a problem and, with a tokenizer and max_tokens, whose judge prompt fits max_tokens
    (counted in one batch); and how many were dropped for each reason."""
    kept, dropped = [], Counter()
    for pair in pairs:
        reason = problem(pair)
        if reason:
            dropped[reason] += 1
        else:
            kept.append(pair)
    if max_tokens is not None and tokenizer is not None:
        lengths = judge_lengths(tokenizer, [(p.prompt, p.response_a, p.response_b) for p in kept])
        if too_long := sum(n > max_tokens for n in lengths):
            dropped[f"longer than {max_tokens} tokens"] = too_long
        kept = [p for p, n in zip(kept, lengths) if n <= max_tokens]
    return kept, dropped


def pair_key(pair: PreferencePair) -> tuple:
    """Same prompt and the same two responses, in either order."""
    return prompt_key(pair.prompt), frozenset((normalize(pair.response_a), normalize(pair.response_b)))


def dedup(pairs: Iterable[PreferencePair]) -> tuple[list[PreferencePair], int]:
    """First occurrence of each pair_key kept; returns (kept, number removed)."""
    seen, kept, removed = set(), [], 0
    for pair in pairs:
        key = pair_key(pair)
        if key in seen:
            removed += 1
        else:
            seen.add(key)
            kept.append(pair)
    return kept, removed
