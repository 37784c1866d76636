"""Metrics over scored pairs: accuracy overall and per category, position consistency, what each order
decides alone, and calibration.

A scored pair is a labeled PreferencePair with its PairScore. A pair counts as right when the preferred
response's score is strictly above the other's (RewardBench's rule: an exact tie is wrong); pairs
labeled `tie` are left out of accuracy and counted apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ..records import PreferencePair
from ..scoring.base import PairScore


def correct(pair: PreferencePair, score: PairScore) -> bool:
    return score.score_a > score.score_b if pair.label == "a" else score.score_b > score.score_a


def order_alone_correct(pair: PreferencePair, p_a: float, first_is_a: bool) -> bool:
    """Whether one presentation order alone picks the preferred response (p_a: P(label A) in that order)."""
    a_wins = p_a > 0.5 if first_is_a else p_a < 0.5
    return a_wins == (pair.label == "a")


def reliability(pairs: Sequence[PreferencePair], scores: Sequence[PairScore], bins: int = 10) -> dict:
    """Reliability diagram of score_a against how often response a is the preferred one, and the
    expected calibration error (bin-size-weighted mean gap)."""
    counts, conf, hits = [0] * bins, [0.0] * bins, [0] * bins
    for p, s in zip(pairs, scores):
        b = min(int(s.score_a * bins), bins - 1)
        counts[b] += 1
        conf[b] += s.score_a
        hits[b] += p.label == "a"
    table = [{"bin": [i / bins, (i + 1) / bins], "n": n, "mean_score": c / n if n else None,
              "frequency": h / n if n else None} for i, (n, c, h) in enumerate(zip(counts, conf, hits))]
    total = sum(counts)
    ece = sum(abs(r["mean_score"] - r["frequency"]) * r["n"] for r in table if r["n"]) / total if total else None
    return {"bins": table, "ece": ece}


def summarize_scores(pairs: Sequence[PreferencePair], scores: Sequence[PairScore]) -> dict:
    """`overall`, `categories` ({name: {accuracy, n}}), `n`, consistency, order-alone shares, calibration."""
    labeled = [(p, s) for p, s in zip(pairs, scores) if p.label in ("a", "b")]
    ties = sum(p.label == "tie" for p in pairs)
    by_category: dict[str, list[bool]] = defaultdict(list)
    for p, s in labeled:
        by_category[p.category or p.source or "all"].append(correct(p, s))
    n = len(labeled)
    both = [(p, s) for p, s in labeled if s.p_a_ba is not None]
    out = {
        "n": n,
        "ties_excluded": ties,
        "overall": sum(correct(p, s) for p, s in labeled) / n if n else None,
        "categories": {c: {"accuracy": sum(v) / len(v), "n": len(v)} for c, v in sorted(by_category.items())},
        "order_ab_alone": sum(order_alone_correct(p, s.p_a_ab, True) for p, s in labeled) / n if n else None,
        "order_ba_alone": (sum(order_alone_correct(p, s.p_a_ba, False) for p, s in both) / len(both)) if both else None,
        "position_consistency": (sum(bool(s.consistent) for _, s in both) / len(both)) if both else None,
        "calibration": reliability([p for p, _ in labeled], [s for _, s in labeled]),
    }
    return out
