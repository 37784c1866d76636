"""Benchmarks of response sets (RewardBench 2): every set ranked by the pairwise judge through
gram.scoring.rank (round-robin: every pair once, both orders, Bradley-Terry strengths as the per-response
scores), resumable set by set, then scored with the benchmark's official rules (eval.official).

    rows, seconds = rank_sets(judge, sets, DIR / "scores.jsonl", settings, resume=True)
"""

from __future__ import annotations

import json
from pathlib import Path

from ..io import write_json_atomic, write_text_atomic
from ..jobs.ranking import RankMethod, rank_rows
from .official import rewardbench2_summary


def rank_sets(judge, sets, output: str | Path, settings: dict, *, resume: bool, desc: str = "ranking",
              quiet: bool = False) -> tuple[list[dict], float]:
    """Each set ranked round-robin: its row with the ranking fields (`bt_scores`: one per response, in the
    set's order). (row_format 2: the rows of RankResult.to_row; a partial file of gram 0.1's rows, with
    `scores`, is not resumed.)"""
    return rank_rows(judge, [s.to_row() for s in sets], output, {**settings, "row_format": 2}, resume=resume,
                     method=RankMethod("round-robin"), desc=desc, unit="set", quiet=quiet)


def summarize_sets(sets, rows: list[dict], seconds: float) -> dict:
    """results.json for a set benchmark: the official summary, `overall` and per-subset `categories`
    (the shape the comparison table reads), how often the judge's top pick is the first correct response,
    and the comparisons spent."""
    official = rewardbench2_summary(sets, [row["bt_scores"] for row in rows])
    counts = official["sets_per_subset"]
    return {"n": len(sets), "overall": official["overall"],
            "categories": {k: {"n": counts[k], "accuracy": v} for k, v in official["subsets"].items()},
            "rewardbench2": official, "comparisons": sum(row["comparisons"] for row in rows),
            "top_pick_correct": sum(row["ranking"][0] < s.meta.get("num_correct", 1) for s, row in zip(sets, rows))
            / len(sets) if sets else None,
            "seconds": round(seconds, 1)}


def write_set_reports(out: Path, results: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "results.json", results)
    official = results["rewardbench2"]
    lines = [f"# {results['data']['benchmark']} - {results['model']}", "",
             f"RewardBench 2 score **{official['overall']:.3f}** (mean of {len(official['subsets'])} subsets) over "
             f"{results['n']} sets, {results['comparisons']} pairwise comparisons (round-robin, both orders); "
             f"{results['seconds']} s", "", "| subset | sets | score |", "|---|---|---|"]
    lines += [f"| {k} | {official['sets_per_subset'][k]} | {v:.3f} |" for k, v in official["subsets"].items()]
    if official["missing_subsets"]:
        lines += ["", f"Missing subsets: {', '.join(official['missing_subsets'])}."]
    lines += ["", "```json", json.dumps(official, indent=1), "```"]
    write_text_atomic(out / "results.md", "\n".join(lines) + "\n")
