"""Cleaning filters the GRAM reference applied to its training data, and deduplication.

Every dropped pair is counted under its reason; nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from ..records import PreferencePair, normalize, prompt_key
from ..templates import encode_judge, render_prompt

# U+FFFD (a decoder gave up), C0 controls other than tab / newline / carriage return, and the classic
# UTF-8-read-as-Latin-1 mojibake ("Ã©", "â€™").
_GARBLED = re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f]|Ã[\x80-\xbf]|â€")


def is_garbled(text: str) -> bool:
    return bool(_GARBLED.search(text))


def problem(pair: PreferencePair, tokenizer=None, max_tokens: int | None = None) -> str | None:
    """Why a pair should not be trained on, or None."""
    if not pair.response_a.strip() or not pair.response_b.strip():
        return "empty response"
    if normalize(pair.response_a) == normalize(pair.response_b):
        return "identical responses"
    if not render_prompt(pair.prompt).strip():
        return "empty prompt"
    if any(is_garbled(t) for t in (render_prompt(pair.prompt), pair.response_a, pair.response_b)):
        return "garbled text"
    if (max_tokens is not None and tokenizer is not None
            and len(encode_judge(tokenizer, pair.prompt, pair.response_a, pair.response_b).input_ids) > max_tokens):
        return f"longer than {max_tokens} tokens"
    return None


def clean(pairs: Iterable[PreferencePair], tokenizer=None, max_tokens: int | None = None
          ) -> tuple[list[PreferencePair], Counter]:
    kept, dropped = [], Counter()
    for pair in pairs:
        reason = problem(pair, tokenizer, max_tokens)
        if reason:
            dropped[reason] += 1
        else:
            kept.append(pair)
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
