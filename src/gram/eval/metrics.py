"""Metrics over scored pairs: accuracy overall and per category, position consistency, what each order
decides alone, calibration, and how much of it length explains (length_effects).

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


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return sxy / (sxx * syy) ** 0.5 if sxx > 0 and syy > 0 else None


def length_effects(pairs: Sequence[PreferencePair], scores: Sequence[PairScore]) -> dict:
    """How much of a judge's accuracy length explains, over labeled pairs whose responses differ in length
    (characters):

    - `longer_wins` / `shorter_wins`: the accuracy of a judge that always picks the longer / shorter one;
    - `accuracy_chosen_longer` / `accuracy_chosen_shorter`: the judge's accuracy on the pairs where the
      preferred response is the longer / the shorter one, and `length_controlled_accuracy` their mean (a
      length-only judge scores 0.5 on it, however the set leans);
    - `picks_longer`: how often the judge prefers the longer response (exact ties of score left out);
    - `margin_length_correlation`: Pearson's r between score_a - score_b and len(a) - len(b)."""
    rows = [(p, s, len(p.response_a) - len(p.response_b)) for p, s in zip(pairs, scores)
            if p.label in ("a", "b") and len(p.response_a) != len(p.response_b)]
    chosen_longer = [(p, s) for p, s, d in rows if (d > 0) == (p.label == "a")]
    chosen_shorter = [(p, s) for p, s, d in rows if (d > 0) != (p.label == "a")]

    def acc(group):
        return sum(correct(p, s) for p, s in group) / len(group) if group else None

    decided = [(s, d) for _, s, d in rows if s.score_a != s.score_b]
    a_long, a_short = acc(chosen_longer), acc(chosen_shorter)
    return {
        "pairs": len(rows),
        "longer_wins": len(chosen_longer) / len(rows) if rows else None,
        "shorter_wins": len(chosen_shorter) / len(rows) if rows else None,
        "accuracy_chosen_longer": a_long, "pairs_chosen_longer": len(chosen_longer),
        "accuracy_chosen_shorter": a_short, "pairs_chosen_shorter": len(chosen_shorter),
        "length_controlled_accuracy": (a_long + a_short) / 2 if a_long is not None and a_short is not None else None,
        "picks_longer": sum((s.score_a > s.score_b) == (d > 0) for s, d in decided) / len(decided) if decided else None,
        "margin_length_correlation": _pearson([s.score_a - s.score_b for _, s, _ in rows], [d for _, _, d in rows]),
    }


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
        "unlabeled": sum(p.label is None for p in pairs),  # n + ties + unlabeled = every pair scored
        "scored_ties": sum(s.pick == "tie" for _, s in labeled),  # exact 0.5 / 0.5: counted wrong, as RewardBench
        "overall": sum(correct(p, s) for p, s in labeled) / n if n else None,
        "categories": {c: {"accuracy": sum(v) / len(v), "n": len(v)} for c, v in sorted(by_category.items())},
        "order_ab_alone": sum(order_alone_correct(p, s.p_a_ab, True) for p, s in labeled) / n if n else None,
        "order_ba_alone": (sum(order_alone_correct(p, s.p_a_ba, False) for p, s in both) / len(both)) if both else None,
        "position_consistency": (sum(bool(s.consistent) for _, s in both) / len(both)) if both else None,
        "calibration": reliability([p for p, _ in labeled], [s for _, s in labeled]),
        "length": length_effects(pairs, scores),
    }
    return out
