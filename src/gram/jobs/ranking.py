"""The one ranking row (`ranked_row`, also the server's /rank) and the one resumable loop over ranking jobs
behind `gram rank`, `gram bon` and `gram eval`'s set benchmarks
(RewardBench 2): each input row's responses ranked by gram.scoring.rank, one output row per input row
(the input's fields, its responses, then `RankResult.to_row()`), appended to OUTPUT.partial as it goes
(gram.jobs.partial), so a killed job goes on from the next row with `resume`.

    rows, seconds = rank_rows(judge, [s.to_row() for s in sets], "ranked.jsonl", settings, resume=True,
                              method=RankMethod("round-robin"))
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..scoring.rank import DEFAULT_STRATEGY, RankResult, rank
from .partial import PartialOutput


@dataclass(frozen=True)
class RankMethod:
    """How each list is ranked (gram.scoring.rank's arguments)."""

    strategy: str = DEFAULT_STRATEGY
    budget: int | None = None
    seed: int = 0
    orders: str = "both"


def ranked_row(judge, prompt, responses: list[str], method: RankMethod) -> dict:
    """One list ranked, as the fields of its output row (RankResult.to_row): what every ranking writes,
    `gram rank`, `gram bon`, set benchmarks and the server's /rank alike."""
    return rank(judge, prompt, responses, method.strategy, budget=method.budget, seed=method.seed,
                orders=method.orders).to_row()


def given_responses(i: int, row: dict) -> list[str]:
    """The responses a response-set row holds (`gram rank`, RewardBench 2)."""
    return row["responses"]


def rank_rows(judge, inputs: list[dict], output: str | Path, settings: dict, *, resume: bool, method: RankMethod,
              responses_of: Callable[[int, dict], list[str]] = given_responses, with_picked_response: bool = False,
              desc: str = "ranking", unit: str = "list", quiet: bool = False) -> tuple[list[dict], float]:
    """Rank the responses of every input row (`responses_of(i, row)`: the row's own, or freshly sampled
    ones for best-of-n) and write each row with `responses` and the ranking fields to `output`; returns
    every output row and this run's seconds. `with_picked_response`: also the picked response's text."""
    from tqdm import tqdm

    produced = ("responses", "picked_response", *RankResult.FIELDS)
    with PartialOutput(output, settings, resume) as out:
        out.check(inputs, produced=produced)
        start = time.perf_counter()
        responses_seen = sum(len(r["responses"]) for r in out.rows)
        comparisons = sum(r["comparisons"] for r in out.rows)
        with tqdm(total=len(inputs), initial=out.done, unit=unit, file=sys.stderr, disable=quiet, desc=desc) as bar:
            for i in range(out.done, len(inputs)):
                row = inputs[i]
                responses = responses_of(i, row)
                ranked = ranked_row(judge, row["prompt"], responses, method)
                picked = {"picked_response": responses[ranked["picked"]]} if with_picked_response else {}
                out.append([{**row, "responses": responses, **ranked, **picked}])
                responses_seen, comparisons = responses_seen + len(responses), comparisons + ranked["comparisons"]
                bar.set_postfix_str(f"{responses_seen} responses, {comparisons} comparisons", refresh=False)
                bar.update()
        seconds = time.perf_counter() - start
        out.finish()
    return out.rows, seconds
