"""What `gram eval` writes for one model on one benchmark, and the table that compares models.

Per model and benchmark, DIR/<model>/<benchmark>/ gets results.json (`overall`, `categories`, `n`, model
and data identity, consistency, order-alone shares, calibration, and the official RewardBench / RM-Bench
summaries where they apply), results.md, accuracy.png (by category) and reliability.png, beside the
scores.jsonl the scoring runner wrote (every pair with its scores). DIR/comparison.md puts every model
side by side.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..io import save_figure_atomic, write_json_atomic, write_text_atomic
from ..records import PreferencePair
from .metrics import summarize_scores
from .official import official_summaries


def summarize_results(pairs: list[PreferencePair], scores: list, seconds: float) -> dict:
    results = summarize_scores(pairs, scores)
    results.update(official_summaries(pairs, scores))
    results["seconds"] = round(seconds, 1)
    results["truncated"] = sum(s.truncated for s in scores)
    return results


def model_label(model: str) -> str:
    return Path(model).name if Path(model).exists() else model.replace("/", "_")


def write_reports(out: Path, results: dict) -> None:
    """results.json, results.md and the two plots (scores.jsonl is the scoring runner's)."""
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "results.json", results)
    write_text_atomic(out / "results.md", markdown(results))
    plot_categories(results, out / "accuracy.png")
    plot_reliability(results, out / "reliability.png")


def fmt(x, digits=3):
    return "-" if x is None else f"{x:.{digits}f}"


def markdown(r: dict) -> str:
    lines = [f"# {r['data']['benchmark']} - {r['model']}", "",
             f"accuracy **{fmt(r['overall'])}** over {r['n']} pairs ({r['ties_excluded']} ties excluded); "
             f"position consistency {fmt(r['position_consistency'])}; order A-first alone {fmt(r['order_ab_alone'])}, "
             f"B-first alone {fmt(r['order_ba_alone'])}; ECE {fmt(r['calibration']['ece'])}; {r['seconds']} s", "",
             "| category | n | accuracy |", "|---|---|---|"]
    lines += [f"| {c} | {v['n']} | {fmt(v['accuracy'])} |" for c, v in r["categories"].items()]
    if "length" in r:
        lines += ["", "## Length", "", length_line(r["length"])]
    for key in ("rewardbench", "rm_bench"):
        if key in r:
            lines += ["", f"## {key}", "", "```json", json.dumps(r[key], indent=1), "```"]
    return "\n".join(lines) + "\n"


def length_line(L: dict) -> str:
    """The length effects of one model on one set, in a sentence (metrics.length_effects)."""
    return (f"Over {L['pairs']} pairs with unequal lengths: \"longer wins\" {fmt(L['longer_wins'])}, \"shorter "
            f"wins\" {fmt(L['shorter_wins'])}; accuracy when the preferred response is the longer "
            f"{fmt(L['accuracy_chosen_longer'])} ({L['pairs_chosen_longer']}), the shorter "
            f"{fmt(L['accuracy_chosen_shorter'])} ({L['pairs_chosen_shorter']}); length-controlled accuracy "
            f"**{fmt(L['length_controlled_accuracy'])}** (a length-only judge: 0.5); picks the longer "
            f"{fmt(L['picks_longer'])}; r(score margin, length difference) {fmt(L['margin_length_correlation'], 2)}.")


def plot_categories(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cats = list(r["categories"].items())[:40]
    fig, ax = plt.subplots(figsize=(max(5, 0.35 * len(cats) + 2), 3.8))
    ax.bar(range(len(cats)), [v["accuracy"] for _, v in cats], color="#4c72b0")
    ax.axhline(0.5, color="grey", lw=1, ls="--")
    ax.set_xticks(range(len(cats)), [c for c, _ in cats], rotation=60, ha="right", fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(f"{r['data']['benchmark']}: {fmt(r['overall'])} overall ({r['model']})", fontsize=9)
    save_figure_atomic(fig, path)


def plot_reliability(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = [b for b in r["calibration"]["bins"] if b["n"]]
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
    ax.plot([b["mean_score"] for b in bins], [b["frequency"] for b in bins], marker="o")
    ax.set_xlabel("score of response A")
    ax.set_ylabel("share where A is preferred")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"reliability, ECE {fmt(r['calibration']['ece'])}", fontsize=9)
    save_figure_atomic(fig, path)


def comparison(results: list[dict]) -> str:
    """One table: a row per benchmark, a column per model (accuracy, with n)."""
    models = list(dict.fromkeys(r["model"] for r in results))
    benches = list(dict.fromkeys(r["data"]["benchmark"] for r in results))
    cell = {(r["data"]["benchmark"], r["model"]): r for r in results}
    lines = ["| benchmark | n | " + " | ".join(models) + " |", "|---|---|" + "---|" * len(models)]
    for b in benches:
        n = next(cell[(b, m)]["n"] for m in models if (b, m) in cell)
        lines.append(f"| {b} | {n} | " + " | ".join(fmt(cell[(b, m)]["overall"]) if (b, m) in cell else "-"
                                                   for m in models) + " |")
    with_length = [b for b in benches if any("length" in cell.get((b, m), {}) for m in models)]
    if with_length:  # beside every accuracy, how much of it length explains
        lines += ["", "Length-controlled accuracy (mean of the accuracies where the preferred response is the longer "
                  "and where it is the shorter; a length-only judge: 0.5) / how often the model picks the longer:", "",
                  "| benchmark | longer wins | " + " | ".join(models) + " |", "|---|---|" + "---|" * len(models)]
        for b in with_length:
            first = next(cell[(b, m)]["length"] for m in models if "length" in cell.get((b, m), {}))

            def both(m, b=b):
                L = cell.get((b, m), {}).get("length")
                return f"{fmt(L['length_controlled_accuracy'])} / {fmt(L['picks_longer'])}" if L else "-"

            lines.append(f"| {b} | {fmt(first['longer_wins'])} | " + " | ".join(both(m) for m in models) + " |")
    return "\n".join(lines) + "\n"
