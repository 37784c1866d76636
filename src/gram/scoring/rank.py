"""List-wise ranking of n responses to one prompt with a pairwise judge.

    linear       the GRAM reference: keep the better of the current best and the next; n-1 comparisons,
                 one after another
    knockout     a tournament: the same n-1 comparisons, but each round's are one batch (log2 n rounds)
    round-robin  every pair once (n(n-1)/2, one batch), aggregated by Bradley-Terry: a full ranking with
                 scores; with a budget, a seeded sample of the pairs
    selection    a full ranking by repeated selection: a knockout for the best, then for the best of the
                 rest, ...; at most n(n-1)/2 comparisons, fewer as pairs judged earlier are reused

The default is knockout: linear's comparisons in log2(n) batched calls (the fastest at every n measured,
docs/BENCHMARKS.md). Every result reports the comparisons it spent; `budget` caps them (the strategy then returns its best
guess so far and says so).

    result = rank(judge, "Write a haiku", responses, strategy="knockout")
    result.best, result.order, result.comparisons
"""

from __future__ import annotations

import itertools
import math
import random
import time
from dataclasses import dataclass, field

STRATEGIES = ("linear", "knockout", "round-robin", "selection")
DEFAULT_STRATEGY = "knockout"  # everywhere: rank(), `gram rank` / `gram bon`, the server's /rank


def largest_call(strategy: str, n: int, budget: int | None) -> int:
    """The most pairs a ranking of n responses sends the judge in one call (the server sizes its queue by
    it): round-robin all n(n-1)/2 (or its budget) at once; the other strategies a round of at most n."""
    if strategy == "round-robin":
        return min(n * (n - 1) // 2, budget or n * n)
    return n


@dataclass
class RankResult:
    strategy: str
    order: list[int]  # response indices, best first (for linear / knockout: the best, then the rest as given)
    comparisons: int
    rounds: int  # batches of comparisons sent to the judge
    scores: list[float] | None = None  # Bradley-Terry log-strengths (round-robin)
    budget_exhausted: bool = False
    seconds: float = 0.0
    full: bool = False  # whether `order` is a full ranking

    # the fields of an output row (`gram rank`, `gram bon`, `gram eval`'s set benchmarks, the server's /rank)
    FIELDS = ("ranking", "picked", "comparisons", "rounds", "full", "budget_exhausted", "bt_scores")

    @property
    def best(self) -> int:
        return self.order[0]

    def to_row(self) -> dict:
        """The result as output-row fields: `ranking` (best first), `picked` (the judge's pick, never the
        known-correct `best` of a response set), `bt_scores` (round-robin's Bradley-Terry log-strengths)."""
        return {"ranking": self.order, "picked": self.best, "comparisons": self.comparisons, "rounds": self.rounds,
                "full": self.full, "budget_exhausted": self.budget_exhausted, "bt_scores": self.scores}


@dataclass
class JudgeSession:
    """One ranking's talk with the judge: each pair judged at most once (cached, either way round), in
    batches (`rounds`), the comparisons counted against an optional budget."""

    judge: object
    prompt: object
    budget: int | None
    orders: str = "both"
    comparisons: int = 0
    rounds: int = 0
    cache: dict = field(default_factory=dict)

    def left(self) -> int | None:
        return None if self.budget is None else self.budget - self.comparisons

    def prefer(self, responses: list[str], pairs: list[tuple[int, int]]) -> dict[tuple[int, int], float]:
        """P(i beats j) for each (i, j), in one batch; pairs already judged are not judged again."""
        todo = [p for p in pairs if p not in self.cache and (p[1], p[0]) not in self.cache]
        if todo:
            scores = self.judge.compare_many([(self.prompt, responses[i], responses[j]) for i, j in todo],
                                             orders=self.orders)
            for (i, j), s in zip(todo, scores):
                self.cache[(i, j)] = s.score_a
            self.comparisons += len(todo)
            self.rounds += 1
        return {(i, j): self.cache[(i, j)] if (i, j) in self.cache else 1.0 - self.cache[(j, i)] for i, j in pairs}


def linear(c: JudgeSession, responses, candidates: list[int]) -> tuple[int, bool]:
    best = candidates[0]
    for nxt in candidates[1:]:
        if c.left() is not None and c.left() < 1:
            return best, True
        if c.prefer(responses, [(best, nxt)])[(best, nxt)] < 0.5:  # an exact tie keeps the incumbent
            best = nxt
    return best, False


def knockout(c: JudgeSession, responses, candidates: list[int]) -> tuple[int, bool]:
    """Winners of each round's pairs advance (an odd one out gets a bye); each round is one batch."""
    alive = list(candidates)
    while len(alive) > 1:
        pairs = [(alive[k], alive[k + 1]) for k in range(0, len(alive) - 1, 2)]
        left = c.left()
        exhausted = left is not None and left < len(pairs)
        if exhausted:
            pairs = pairs[:max(left, 0)]  # play what the budget allows
        p = c.prefer(responses, pairs) if pairs else {}
        played = {x for pair in pairs for x in pair}
        winners = [i if p[(i, j)] >= 0.5 else j for i, j in pairs] + [x for x in alive if x not in played]
        if exhausted:
            return winners[0], True
        alive = winners
    return alive[0], False


def bradley_terry(n: int, wins: dict[tuple[int, int], float], iterations: int = 200) -> list[float]:
    """Log-strengths from soft pairwise outcomes (wins[(i, j)] = P(i beats j)) by Hunter's MM algorithm,
    with a small symmetric prior so that undefeated or unplayed responses stay finite."""
    prior = 0.1
    w = [[prior] * n for _ in range(n)]
    played = [[0.0] * n for _ in range(n)]
    for (i, j), p in wins.items():
        w[i][j] += p
        w[j][i] += 1.0 - p
        played[i][j] += 1
        played[j][i] += 1
    strength = [1.0] * n
    for _ in range(iterations):
        new = []
        for i in range(n):
            total_wins = sum(w[i][j] for j in range(n) if j != i)
            denom = sum((played[i][j] + 2 * prior) / (strength[i] + strength[j]) for j in range(n) if j != i)
            new.append(total_wins / denom if denom else strength[i])
        norm = math.exp(sum(math.log(s) for s in new) / n)
        strength = [s / norm for s in new]
    return [math.log(s) for s in strength]


def rank(judge, prompt, responses: list[str], strategy: str = DEFAULT_STRATEGY, budget: int | None = None,
         seed: int = 0, orders: str = "both") -> RankResult:
    """`orders`: "both" (each comparison in both presentation orders, the default) or "ab" (the earlier
    response first only: half the cost, position bias left in)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
    if not responses:
        raise ValueError("nothing to rank: no responses")
    start = time.perf_counter()
    c = JudgeSession(judge, prompt, budget, orders)
    n = len(responses)
    everyone = list(range(n))
    exhausted, scores, full = False, None, False
    if n == 1:
        order = [0]
    elif strategy == "linear":
        best, exhausted = linear(c, responses, everyone)
        order = [best] + [i for i in everyone if i != best]
    elif strategy == "knockout":
        best, exhausted = knockout(c, responses, everyone)
        order = [best] + [i for i in everyone if i != best]
    elif strategy == "round-robin":
        pairs = list(itertools.combinations(everyone, 2))
        if budget is not None and budget < len(pairs):
            pairs, exhausted = random.Random(seed).sample(pairs, budget), True
        wins = c.prefer(responses, pairs) if pairs else {}
        scores = bradley_terry(n, wins)
        order, full = sorted(everyone, key=lambda i: -scores[i]), True
    else:  # selection
        order, rest = [], list(everyone)
        while len(rest) > 1:
            best, exhausted = knockout(c, responses, rest)
            order.append(best)
            rest.remove(best)
            if exhausted:
                break
        order += rest
        full = not exhausted
    return RankResult(strategy, order, c.comparisons, c.rounds, scores, exhausted, time.perf_counter() - start, full)
