"""`gram eval`: score a benchmark with one or more models and write results, tables and plots.

    gram eval --model runs/stage2 --benchmark judgebench --benchmark llmbar-natural --output eval/stage2
    gram eval --model smollm2-135m --model runs/stage2 --benchmark hhh --output eval/compare
    gram eval --model M --benchmark my_pairs.jsonl --output DIR              # any gram pair file
    gram eval --model M --benchmark rb.parquet --format rewardbench --output DIR

Per model and benchmark, DIR/<model>/<benchmark>/ gets results.json (`overall`, `categories`, `n`, model
and data identity, consistency, order-alone shares, calibration, and the official RewardBench / RM-Bench
summaries where they apply), results.md, accuracy.png (by category) and reliability.png, and scores.jsonl
(every pair with its scores). DIR/comparison.md puts every model side by side.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .formats import read
from .jsonl import write_json_atomic, write_jsonl_atomic
from .metrics import summarize_scores
from .records import PreferencePair


@dataclass(frozen=True)
class Benchmark:
    name: str
    format: str
    path: str  # under the data dir
    note: str = ""


BENCHMARKS = {b.name: b for b in [
    Benchmark("judgebench", "judgebench", "gram-repo-data/evaluation/scalerlab_judgebench/gpt.json",
              "JudgeBench, GPT-4o responses (350 pairs)"),
    Benchmark("judgebench-claude", "judgebench", "gram-repo-data/evaluation/scalerlab_judgebench/claude.json",
              "JudgeBench, Claude responses (270 pairs)"),
    Benchmark("llmbar-natural", "llmbar", "llmbar/Dataset/LLMBar/Natural", "LLMBar Natural (100)"),
    Benchmark("llmbar-adversarial", "llmbar", "llmbar/Dataset/LLMBar/Adversarial",
              "LLMBar Adversarial: Neighbor, GPTInst, GPTOut, Manual (319)"),
    Benchmark("hhh", "hhh-prometheus", "prometheus-eval-benchmarks/eval/benchmark/data/hhh_alignment_eval.json",
              "HHH alignment (221)"),
    Benchmark("pandalm", "pandalm", "pandalm/data/testset-v1.json", "PandaLM test set, ties excluded (894 of 999)"),
    Benchmark("mt-bench", "llmbar", "llmbar/Dataset/Processed/MT-Bench", "MT-Bench human judgements, processed (200)"),
    Benchmark("rmb", "rmb-pairwise", "rmb/RMB_dataset/Pairwise_set", "RMB pairwise (14,543)"),
]}


def data_dir() -> Path:
    return Path(os.environ.get("GRAM_DATA", "../shared/data"))


def load_benchmark(spec: str, fmt: str | None = None) -> tuple[str, list[PreferencePair], dict]:
    """(name, labeled pairs, identity) for a benchmark name or a file of pairs."""
    if spec in BENCHMARKS and fmt is None:
        b = BENCHMARKS[spec]
        path = data_dir() / b.path
        name, fmt = b.name, b.format
    else:
        path, name, fmt = Path(spec), Path(spec).name.split(".")[0], fmt or "gram"
    records = read(fmt, path).records
    pairs = [r for r in records if isinstance(r, PreferencePair)]
    if len(pairs) != len(records):
        raise ValueError(f"{path}: holds response sets; evaluation needs labeled pairs")
    identity = {"benchmark": name, "format": fmt, "path": str(path), "records": len(pairs),
                "sha1": fingerprint(pairs)}
    return name, pairs, identity


def fingerprint(pairs: list[PreferencePair]) -> str:
    h = hashlib.sha1()
    for p in pairs:
        h.update(json.dumps([p.prompt, p.response_a, p.response_b, p.label], ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()[:16]


EVAL_CHUNK = 64  # pairs scored, then appended to scores.jsonl.partial, at a time


def score_pairs(judge, pairs: list[PreferencePair], orders: str = "both", progress=None, partial=None) -> list:

    if partial is None:
        return judge.compare_many(pairs, orders=orders, progress=progress)
    if progress is not None:
        progress.update(partial.done)
    for first in range(partial.done, len(pairs), EVAL_CHUNK):
        chunk = pairs[first:first + EVAL_CHUNK]
        partial.append([score_row(p, s) for p, s in zip(chunk, judge.compare_many(chunk, orders=orders,
                                                                                  progress=progress))])
    partial.finish()
    return [scores_of(r) for r in partial.rows]


def scores_of(row: dict):
    from .judge import PairScore

    return PairScore(row["score_a"], row["score_b"], row["p_a_ab"], row["p_a_ba"], row["truncated"])


def summarize_results(pairs: list[PreferencePair], scores: list, seconds: float) -> dict:
    from .official import official_summaries

    results = summarize_scores(pairs, scores)
    results.update(official_summaries(pairs, scores))
    results["seconds"] = round(seconds, 1)
    results["truncated"] = sum(s.truncated for s in scores)
    return results


SCORE_FIELDS = ("score_a", "score_b", "p_a_ab", "p_a_ba", "truncated")


def score_fields(s) -> dict:
    """A PairScore as the fields gram writes into output rows."""
    return {"score_a": s.score_a, "score_b": s.score_b, "p_a_ab": s.p_a_ab, "p_a_ba": s.p_a_ba,
            "truncated": s.truncated}


def score_row(pair: PreferencePair, s) -> dict:
    return {**pair.to_row(), **score_fields(s)}


def model_label(model: str) -> str:
    return Path(model).name if Path(model).exists() else model.replace("/", "_")


def write_reports(out: Path, results: dict, pairs: list[PreferencePair], scores: list) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(out / "scores.jsonl", (score_row(p, s) for p, s in zip(pairs, scores)))
    write_json_atomic(out / "results.json", results)
    (out / "results.md").write_text(markdown(results))
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
    for key in ("rewardbench", "rm_bench"):
        if key in r:
            lines += ["", f"## {key}", "", "```json", json.dumps(r[key], indent=1), "```"]
    return "\n".join(lines) + "\n"


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    tmp = path.with_suffix(".tmp.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


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
    _save(fig, path)


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
    _save(fig, path)


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
    return "\n".join(lines) + "\n"
