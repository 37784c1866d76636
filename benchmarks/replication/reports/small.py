"""The small run's page (docs/results/small.md): wall times, data, accuracy per set and pooled out of
distribution, GRAM's paired differences against each other model, and the adaptation curves. Accuracy
counts a pair right when the chosen response's score is strictly above 0.5 (a tie is wrong)."""

from __future__ import annotations

import json
from pathlib import Path

from ..plans import small as plan
from ..stages import adapted_name
from .common import bootstrap, data_table, pyplot, wall_times
from .common import page as whole_page

SETS = plan.SETS
OOD = plan.OOD_SETS
MODELS = ["zero-shot", "bt", "stage2-only", "gram-eps0", "gram"]
LABELS = {"zero-shot": "SmolLM2-135M zero-shot", "bt": "Bradley-Terry RM", "stage2-only": "stage 2 only (eps 0.1)",
          "gram-eps0": "GRAM, eps 0", "gram": "GRAM (stage 1 + 2, eps 0.1)", "longer": '"longer response wins"'}


def eval_dir(model: str) -> str:
    """The directory `gram eval` names after the model."""
    return "smollm2-135m" if model == "zero-shot" else model


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n")[:-1]]


def correctness(path: Path) -> list[int] | None:
    if not path.exists():
        return None
    rows = [r for r in jsonl(path) if r["label"] in ("a", "b")]
    return [int((r["score_a"] if r["label"] == "a" else r["score_b"]) > 0.5) for r in rows]


def longer_wins(path: Path) -> list[int]:
    rows = [r for r in jsonl(path) if r["label"] in ("a", "b")]
    return [int((len(r["response_a"]) > len(r["response_b"])) if r["label"] == "a"
                else (len(r["response_b"]) > len(r["response_a"]))) for r in rows]


def picks_longer(scores: Path, data: Path) -> tuple[int, int] | None:
    """(pairs where the model's preferred response is the longer one, pairs with a preference and unequal
    lengths). scores.jsonl rows follow the data file's order; the archive keeps scores without the text."""
    if not scores.exists():
        return None
    texts, rows = jsonl(data), jsonl(scores)
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
    pairs = [PreferencePair(t["prompt"], t["response_a"], t["response_b"], t.get("label")) for t in jsonl(data)]
    scored = [PairScore(r["score_a"], r["score_b"], r.get("p_a_ab"), r.get("p_a_ba"), r.get("truncated", False))
              for r in jsonl(scores)]
    L = length_effects(pairs, scored)
    return ((L["accuracy_chosen_longer"] or 0) * L["pairs_chosen_longer"], L["pairs_chosen_longer"],
            (L["accuracy_chosen_shorter"] or 0) * L["pairs_chosen_shorter"], L["pairs_chosen_shorter"])


def results_json(run: Path, tag: str, model: str, bench: str) -> dict | None:
    path = run / tag / eval_dir(model) / bench / "results.json"
    return json.loads(path.read_text()) if path.exists() else None


def length_cells(run: Path, model: str) -> str:
    """Picks longer and length-controlled accuracy over the OOD sets pooled: two table cells."""
    if model == "longer":
        return "1.000 | 0.500"
    scores = {b: run / "eval" / eval_dir(model) / b / "scores.jsonl" for b in OOD}
    picked = [picks_longer(scores[b], run / "data" / f"{b}.jsonl") for b in OOD]
    cells = f"{sum(p[0] for p in picked) / sum(p[1] for p in picked):.3f}"
    split = [length_split(scores[b], run / "data" / f"{b}.jsonl") for b in OOD]
    if not all(split):
        return cells + " | -"
    right_l, n_l, right_s, n_s = (sum(x[i] for x in split) for i in range(4))
    return cells + (f" | {(right_l / n_l + right_s / n_s) / 2:.3f}" if n_l and n_s else " | -")


def ood_cells(run: Path, model: str, correct: dict, pooled: list[int]) -> str:
    """Pooled accuracy with its interval, the mean over sets, position consistency, then length_cells."""
    lo, hi = bootstrap(pooled)
    mean_sets = sum(sum(correct[b]) / len(correct[b]) for b in OOD) / len(OOD)
    found = [results_json(run, "eval", model, b) if model != "longer" else None for b in OOD]
    consistency = [r["position_consistency"] for r in found if r and r.get("position_consistency") is not None]
    cons = f"{sum(consistency) / len(consistency):.3f}" if consistency else "-"
    return (f"{sum(pooled) / len(pooled):.3f} [{lo:.3f}, {hi:.3f}] | {mean_sets:.3f} | {cons} | "
            + length_cells(run, model))


def accuracy_table(run: Path) -> tuple[list[str], dict]:
    """Every model and "longer wins" on every set, and over the OOD sets pooled (returned by model)."""
    correct = {m: {b: correctness(run / "eval" / eval_dir(m) / b / "scores.jsonl") for b in SETS} for m in MODELS}
    correct["longer"] = {b: longer_wins(run / "data" / f"{b}.jsonl") for b in SETS}
    lines = ["### Accuracy (both orders averaged; RMB held-out is in distribution, the rest out of it)", "",
             "| model | " + " | ".join(SETS) + " | OOD pooled [95% CI] | OOD mean of sets | consistency (OOD) | "
             "picks longer (OOD) | length-controlled (OOD) |", "|" + "---|" * (len(SETS) + 6)]
    pooled = {}
    for m in [*MODELS, "longer"]:
        cells = ["-" if c is None else f"{sum(c) / len(c):.3f}" for c in (correct[m][b] for b in SETS)]
        extra = "- | - | - | - | -"
        if all(correct[m][b] is not None for b in OOD):
            pooled[m] = [x for b in OOD for x in correct[m][b]]
            extra = ood_cells(run, m, correct[m], pooled[m])
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + f" | {extra} |")
    counts = " / ".join(f"{b} {len(correct['longer'][b])}" for b in SETS)
    lines += ["", f"Pairs per set: {counts}. \"Picks longer\": share of OOD pairs (with unequal lengths in "
              "characters and a preference) where the model prefers the longer response. \"Length-controlled\": the "
              "mean of its OOD accuracy where the preferred response is the longer and where it is the shorter "
              "(a length-only judge scores 0.5).", ""]
    return lines, pooled


def differences_table(pooled: dict) -> list[str]:
    lines = ["### GRAM minus each other model, OOD pairs pooled (paired bootstrap)", "",
             "| against | difference | 95% CI |", "|---|---|---|"]
    for m in [*MODELS, "longer"]:
        if m != "gram" and m in pooled:
            diff = (sum(pooled["gram"]) - sum(pooled[m])) / len(pooled[m])
            lo, hi = bootstrap(pooled["gram"], pooled[m])
            lines.append(f"| {LABELS[m]} | {diff:+.3f} | [{lo:+.3f}, {hi:+.3f}] |")
    return lines + [""]


def ood_plot(pooled: dict, figures: Path, plt) -> list[str]:
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
    return ["![OOD accuracy](ood_accuracy.png)", ""]


def adaptation_scores(run: Path, task: str) -> tuple[list[int], dict, dict, dict]:
    """(the n adapted with, model -> [accuracy with its interval, or None, by n], "<model>-<n>" -> right or
    wrong per test pair, model -> share of pairs where it picks the longer response, by n)."""
    t = plan.TASKS[task]
    sizes = [0, *plan.SIZES[t.sizes]]
    curve, correct, longer_share = {}, {}, {}
    for kind in ("gram", "bt"):
        curve[kind], longer_share[kind] = [], []
        for n in sizes:
            scores = run / t.tag / adapted_name(kind, t, n) / t.test / "scores.jsonl"
            c = correctness(scores)
            curve[kind].append(None if c is None else (sum(c) / len(c), *bootstrap(c)))
            correct[f"{kind}-{n}"] = c
            picked = picks_longer(scores, run / "data" / f"{t.test}.jsonl")
            longer_share[kind].append("-" if picked is None else f"{picked[0] / picked[1]:.2f}")
    return sizes, curve, correct, longer_share


def adaptation_section(run: Path, figures: Path, task: str, plt) -> list[str]:
    """Accuracy on the task's held-out side against task pairs trained on, GRAM and BT, with paired differences."""
    t = plan.TASKS[task]
    sizes, curve, correct, longer_share = adaptation_scores(run, task)
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
    adaptation_plot(t, sizes, curve, figures, plt)
    return lines + [f"![adaptation, {t.title}]({t.plot})", ""]


def adaptation_plot(t, sizes: list[int], curve: dict, figures: Path, plt) -> None:
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


def page(run: Path, stages, figures: Path) -> str:
    """docs/results/small.md, whole; the plots written to `figures`."""
    plt = pyplot()
    figures.mkdir(parents=True, exist_ok=True)
    table, pooled = accuracy_table(run)
    lines = [*wall_times(run, stages), *data_table(run), *table]
    if "gram" in pooled:
        lines += [*differences_table(pooled), *ood_plot(pooled, figures, plt)]
    for task in plan.TASKS:
        lines += adaptation_section(run, figures, task, plt)
    return whole_page(plan, "small", lines)
