"""What both reports share: accuracy and its percentile bootstrap over pairs (2,000 resamples, seed 0;
differences between two models paired: the same pairs resampled for both), number formats, the wall-time
and data tables, and the page around them."""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path

from ..archive import DATA_STAGE


def accuracy(right: list[int], idx=None) -> float:
    idx = range(len(right)) if idx is None else idx
    return sum(right[i] for i in idx) / len(idx) if len(idx) else float("nan")


def interval(stat, n: int, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap of stat(indices) over n pairs. Resamples where stat is undefined (nan: e.g. no pair
    whose chosen response is the shorter was drawn) are left out; none defined: (nan, nan)."""
    values = [stat(idx) for idx in draws(n, resamples, seed)]
    values = sorted(v for v in values if v == v)
    if not values:
        return float("nan"), float("nan")
    return values[int(0.025 * len(values))], values[int(0.975 * len(values)) - 1]


@functools.lru_cache(maxsize=64)
def draws(n: int, resamples: int, seed: int) -> tuple[list[int], ...]:
    """The bootstrap's resamples of n pairs (the same for every statistic over n pairs: drawn once)."""
    rng = random.Random(seed)
    return tuple([rng.randrange(n) for _ in range(n)] for _ in range(resamples)) if n else ()


def bootstrap(right: list[int], paired: list[int] | None = None) -> tuple[float, float]:
    """The 95% interval of the accuracy, or (with `paired`, right or wrong on the same pairs) of the difference."""
    if paired is None:
        return interval(lambda idx: accuracy(right, idx), len(right))
    return interval(lambda idx: accuracy(right, idx) - accuracy(paired, idx), len(right))


def fmt(x: float, lo: float | None = None, hi: float | None = None, sign: str = "") -> str:
    """x to three decimals, with its interval where one is given and defined; "-" for nan."""
    if x != x:
        return "-"
    return f"{x:{sign}.3f}" + (f" [{lo:{sign}.3f}, {hi:{sign}.3f}]" if lo is not None and lo == lo else "")


def wall_times(run: Path, stages, title: str = "Wall time per stage") -> list[str]:
    lines = [f"### {title}", "", "| stage | minutes | finished |", "|---|---|---|"]
    total = 0.0
    for s in stages:
        done = run / "done" / f"{s.name}.json"
        if s.name == DATA_STAGE:
            lines.append(f"| {s.name} | rebuilt on each machine, not archived | |")
        elif done.exists():
            d = json.loads(done.read_text())
            total += d["seconds"]
            lines.append(f"| {s.name} | {d['seconds'] / 60:.1f} | {d['finished']} |")
        else:
            lines.append(f"| {s.name} | not run yet | |")
    return lines + [f"| **total** | **{total / 60:.1f}** ({total / 3600:.2f} h) | |", ""]


def data_table(run: Path) -> list[str]:
    """Each data file of the run with its size and how it was drawn (manifest.json); the labeled training
    sources, where the manifest has them."""
    manifest = json.loads((run / "data" / "manifest.json").read_text())
    lines = ["### Data (seed 0)", "", "| file | pairs | what |", "|---|---|---|"]
    for name, f in manifest["files"].items():
        lines.append(f"| {name} | {f['pairs']} | {f['note']} |")
    sources = manifest["files"].get("train", {}).get("sources", {})
    for name, c in sources.items():
        if isinstance(c, dict):
            lines.append(f"| (source) {name} | {c['balanced']} | of {c['short']} pairs within "
                         f"{manifest['limits']['stage2_tokens']} tokens, after length balancing (before the splits) |")
    return lines + [""]


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def page(plan, scale: str, lines: list[str]) -> str:
    """A report's whole page: the plan's title and description, then its tables."""
    head = [f"# {plan.TITLE}", "",
            f"<!-- Generated whole by `python benchmarks/replicate.py --scale {scale} --report` from "
            f"benchmarks/results/{plan.RUN_DIR}/: edits here are overwritten. -->", "", plan.ABOUT, ""]
    return "\n".join([*head, *lines]).rstrip() + "\n"
