"""Tables and plots of the replication (benchmarks/replicate.py --report) for docs/RESULTS.md.

Only the section between <!-- replication:start --> and <!-- replication:end --> is generated; the
reading of the results around it is written by hand. Accuracy counts a pair right when the chosen
response's score is strictly above 0.5 (a tie is wrong); 95% intervals are percentile bootstraps over
pairs (2,000 resamples, seed 0); differences between two models are paired (same pairs resampled).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from bench_docs import replace_section
from replicate_plan import TASKS, adapted_name

SETS = ["rmb-test", "judgebench", "llmbar-natural", "llmbar-adversarial", "hhh", "pandalm", "mt-bench"]
OOD = SETS[1:]
MODELS = ["zero-shot", "bt", "stage2-only", "gram-eps0", "gram"]
LABELS = {"zero-shot": "SmolLM2-135M zero-shot", "bt": "Bradley-Terry RM", "stage2-only": "stage 2 only (eps 0.1)",
          "gram-eps0": "GRAM, eps 0", "gram": "GRAM (stage 1 + 2, eps 0.1)", "longer": '"longer response wins"'}


def eval_dir(model: str) -> str:
    """The directory `gram eval` names after the model."""
    return "smollm2-135m" if model == "zero-shot" else model


def correctness(path: Path) -> list[int] | None:
    if not path.exists():
        return None
    out = []
    for line in path.read_text(encoding="utf-8").split("\n")[:-1]:
        r = json.loads(line)
        if r["label"] in ("a", "b"):
            chosen = r["score_a"] if r["label"] == "a" else r["score_b"]
            out.append(int(chosen > 0.5))
    return out


def longer_wins(path: Path) -> list[int]:
    out = []
    for line in path.read_text(encoding="utf-8").split("\n")[:-1]:
        r = json.loads(line)
        if r["label"] in ("a", "b"):
            a, b = len(r["response_a"]), len(r["response_b"])
            out.append(int((a > b) if r["label"] == "a" else (b > a)))
    return out


def picks_longer(scores: Path, data: Path) -> tuple[int, int] | None:
    """(pairs where the model's preferred response is the longer one, pairs with a preference and unequal
    lengths). scores.jsonl rows follow the data file's order; the archive keeps scores without the text."""
    if not scores.exists():
        return None
    texts = [json.loads(line) for line in data.read_text(encoding="utf-8").split("\n")[:-1]]
    rows = [json.loads(line) for line in scores.read_text(encoding="utf-8").split("\n")[:-1]]
    if len(texts) != len(rows):
        raise ValueError(f"{scores}: {len(rows)} rows, but {data} has {len(texts)}")
    longer = counted = 0
    for t, r in zip(texts, rows):
        a, b = len(t["response_a"]), len(t["response_b"])
        if a != b and r["score_a"] != r["score_b"]:
            counted += 1
            longer += (r["score_a"] > r["score_b"]) == (a > b)
    return longer, counted


def length_split(scores: Path, data: Path) -> tuple[float, int, float, int] | None:
    """(right, n) where the preferred response is the longer, and (right, n) where it is the shorter
    (gram.eval.metrics.length_effects), to pool over sets into a length-controlled accuracy."""
    from gram.eval.metrics import length_effects
    from gram.records import PreferencePair
    from gram.scoring.base import PairScore

    if not scores.exists():
        return None
    texts = [json.loads(line) for line in data.read_text(encoding="utf-8").split("\n")[:-1]]
    rows = [json.loads(line) for line in scores.read_text(encoding="utf-8").split("\n")[:-1]]
    pairs = [PreferencePair(t["prompt"], t["response_a"], t["response_b"], t.get("label")) for t in texts]
    scored = [PairScore(r["score_a"], r["score_b"], r.get("p_a_ab"), r.get("p_a_ba"), r.get("truncated", False))
              for r in rows]
    L = length_effects(pairs, scored)
    return ((L["accuracy_chosen_longer"] or 0) * L["pairs_chosen_longer"], L["pairs_chosen_longer"],
            (L["accuracy_chosen_shorter"] or 0) * L["pairs_chosen_shorter"], L["pairs_chosen_shorter"])


def bootstrap(values: list[int], paired: list[int] | None = None, n: int = 2000, seed: int = 0):
    rng = random.Random(seed)
    k = len(values)
    stats = []
    for _ in range(n):
        idx = [rng.randrange(k) for _ in range(k)]
        s = sum(values[i] for i in idx) / k
        if paired is not None:
            s -= sum(paired[i] for i in idx) / k
        stats.append(s)
    stats.sort()
    return stats[int(0.025 * n)], stats[int(0.975 * n) - 1]


def results_json(run: Path, tag: str, model: str, bench: str) -> dict | None:
    path = run / tag / eval_dir(model) / bench / "results.json"
    return json.loads(path.read_text()) if path.exists() else None


def wall_times(run: Path, stages, title: str = "Wall time per stage") -> list[str]:
    lines = [f"### {title}", "", "| stage | minutes | finished |", "|---|---|---|"]
    total = 0.0
    for s in stages:
        done = run / "done" / f"{s.name}.json"
        if done.exists():
            d = json.loads(done.read_text())
            total += d["seconds"]
            lines.append(f"| {s.name} | {d['seconds'] / 60:.1f} | {d['finished']} |")
        else:
            lines.append(f"| {s.name} | not run yet | |")
    return lines + [f"| **total** | **{total / 60:.1f}** ({total / 3600:.2f} h) | |", ""]


def write_report(run: Path, stages, docs: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = docs / "results"
    figures.mkdir(parents=True, exist_ok=True)
    data = run / "data"
    manifest = json.loads((data / "manifest.json").read_text())
    lines = []

    lines += wall_times(run, stages)

    # data
    lines += ["### Data (seed 0)", "", "| file | pairs | what |", "|---|---|---|"]
    for name, f in manifest["files"].items():
        lines.append(f"| {name} | {f['pairs']} | {f['note']} |")
    lines.append("")

    # accuracy table
    correct = {m: {b: correctness(run / "eval" / eval_dir(m) / b / "scores.jsonl") for b in SETS}
               for m in MODELS}
    correct["longer"] = {b: longer_wins(data / f"{b}.jsonl") for b in SETS}
    header = ("| model | " + " | ".join(SETS) + " | OOD pooled [95% CI] | OOD mean of sets | consistency (OOD) | "
              "picks longer (OOD) | length-controlled (OOD) |")
    lines += ["### Accuracy (both orders averaged; RMB held-out is in distribution, the rest out of it)", "",
              header, "|" + "---|" * (len(SETS) + 6)]
    pooled = {}
    for m in [*MODELS, "longer"]:
        cells, have = [], all(correct[m][b] is not None for b in OOD)
        for b in SETS:
            c = correct[m][b]
            cells.append("-" if c is None else f"{sum(c) / len(c):.3f}")
        if have:
            pooled[m] = [x for b in OOD for x in correct[m][b]]
            lo, hi = bootstrap(pooled[m])
            mean_sets = sum(sum(correct[m][b]) / len(correct[m][b]) for b in OOD) / len(OOD)
            consistency = []
            for b in OOD:
                r = results_json(run, "eval", m, b) if m != "longer" else None
                if r and r.get("position_consistency") is not None:
                    consistency.append(r["position_consistency"])
            cons = f"{sum(consistency) / len(consistency):.3f}" if consistency else "-"
            extra = f"{sum(pooled[m]) / len(pooled[m]):.3f} [{lo:.3f}, {hi:.3f}] | {mean_sets:.3f} | {cons}"
            if m == "longer":
                extra += " | 1.000 | 0.500"
            else:
                picked = [picks_longer(run / "eval" / eval_dir(m) / b / "scores.jsonl", data / f"{b}.jsonl") for b in OOD]
                extra += f" | {sum(p[0] for p in picked) / sum(p[1] for p in picked):.3f}"
                split = [length_split(run / "eval" / eval_dir(m) / b / "scores.jsonl", data / f"{b}.jsonl") for b in OOD]
                if all(split):
                    right_l, n_l, right_s, n_s = (sum(x[i] for x in split) for i in range(4))
                    extra += f" | {(right_l / n_l + right_s / n_s) / 2:.3f}" if n_l and n_s else " | -"
                else:
                    extra += " | -"
        else:
            extra = "- | - | - | - | -"
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + f" | {extra} |")
    counts = " / ".join(f"{b} {len(correct['longer'][b])}" for b in SETS)
    lines += ["", f"Pairs per set: {counts}. \"Picks longer\": share of OOD pairs (with unequal lengths in "
              "characters and a preference) where the model prefers the longer response. \"Length-controlled\": the "
              "mean of its OOD accuracy where the preferred response is the longer and where it is the shorter "
              "(a length-only judge scores 0.5).", ""]

    # paired differences
    if "gram" in pooled:
        lines += ["### GRAM minus each other model, OOD pairs pooled (paired bootstrap)", "",
                  "| against | difference | 95% CI |", "|---|---|---|"]
        for m in [*MODELS, "longer"]:
            if m != "gram" and m in pooled:
                diff = (sum(pooled["gram"]) - sum(pooled[m])) / len(pooled[m])
                lo, hi = bootstrap(pooled["gram"], pooled[m])
                lines.append(f"| {LABELS[m]} | {diff:+.3f} | [{lo:+.3f}, {hi:+.3f}] |")
        lines.append("")

        fig, ax = plt.subplots(figsize=(8, 3.6))
        names = [m for m in [*MODELS, "longer"] if m in pooled]
        accs = [sum(pooled[m]) / len(pooled[m]) for m in names]
        errs = [bootstrap(pooled[m]) for m in names]
        ax.bar(range(len(names)), accs, yerr=[[a - e[0] for a, e in zip(accs, errs)], [e[1] - a for a, e in zip(accs, errs)]],
               color=["#999", "#c96", "#69c", "#6a6", "#284", "#ccc"][:len(names)], capsize=4)
        ax.axhline(0.5, color="k", lw=0.8, ls=":")
        ax.set_xticks(range(len(names)), [LABELS[m] for m in names], rotation=20, ha="right", fontsize=8)
        ax.set_ylabel("OOD accuracy (pooled)")
        ax.set_ylim(0.3, 0.8)
        fig.tight_layout()
        fig.savefig(figures / "ood_accuracy.png", dpi=110)
        plt.close(fig)
        lines += ["![OOD accuracy](results/ood_accuracy.png)", ""]

    for task in TASKS:
        lines += adaptation_section(run, manifest, figures, task, plt)

    path = docs / "RESULTS.md"
    if not path.exists():
        path.write_text("# Results: a small-scale replication of GRAM\n\n<!-- replication:start -->\n"
                        "<!-- replication:end -->\n")
    replace_section(path, "replication", "\n".join(lines))
    print(f"wrote {path} and {figures}/")


def adaptation_section(run: Path, manifest: dict, figures: Path, task: str, plt) -> list[str]:
    """Accuracy on the task's held-out side against task pairs trained on, GRAM and BT, with paired differences."""
    t = TASKS[task]
    sizes = [0, *manifest["sizes"].get(t.sizes, [])]
    curve, correct, longer_share = {}, {}, {}
    for kind in ("gram", "bt"):
        curve[kind], longer_share[kind] = [], []
        for n in sizes:
            scores = run / t.tag / adapted_name(kind, task, n) / t.test / "scores.jsonl"
            c = correctness(scores)
            curve[kind].append(None if c is None else (sum(c) / len(c), *bootstrap(c)))
            correct[f"{kind}-{n}"] = c
            picked = picks_longer(scores, run / "data" / f"{t.test}.jsonl")
            longer_share[kind].append("-" if picked is None else f"{picked[0] / picked[1]:.2f}")
    if not any(v for k in curve for v in curve[k]):
        return []
    n_test = next(len(c) for c in correct.values() if c is not None)
    lines = [f"### Task adaptation: {t.title} (held-out test side, {n_test} pairs)", "",
             "| task pairs | " + " | ".join(str(n) for n in sizes) + " |", "|---|" + "---|" * len(sizes)]
    for kind in ("gram", "bt"):
        cells = ["-" if v is None else f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]" for v in curve[kind]]
        lines.append(f"| {LABELS[kind]} | " + " | ".join(cells) + " |")
    cells = []
    for n in sizes:
        g, b = correct[f"gram-{n}"], correct[f"bt-{n}"]
        cells.append("-" if g is None or b is None else
                     "{:+.3f} [{:+.3f}, {:+.3f}]".format(sum(g) / len(g) - sum(b) / len(b), *bootstrap(g, b)))
    lines.append("| GRAM minus BT (paired) | " + " | ".join(cells) + " |")
    for kind in ("gram", "bt"):
        lines.append(f"| {'GRAM' if kind == 'gram' else 'BT'} picks the longer response | "
                     + " | ".join(longer_share[kind]) + " |")
    longer = longer_wins(run / "data" / f"{t.test}.jsonl")
    lines += ["", f'"Longer response wins" on the same test side: {sum(longer) / len(longer):.3f}.', ""]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for kind, color in (("gram", "#284"), ("bt", "#c96")):
        pts = [(n, v) for n, v in zip(sizes, curve[kind]) if v]
        if pts:
            ax.errorbar([p[0] for p in pts], [p[1][0] for p in pts],
                        yerr=[[p[1][0] - p[1][1] for p in pts], [p[1][2] - p[1][0] for p in pts]],
                        marker="o", capsize=3, color=color, label=LABELS[kind])
    ax.axhline(0.5, color="k", lw=0.8, ls=":")
    ax.set_xlabel(f"{t.title} pairs trained on")
    ax.set_ylabel("accuracy on the held-out side")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(figures / t.plot, dpi=110)
    plt.close(fig)
    return lines + [f"![adaptation, {t.title}](results/{t.plot})", ""]
