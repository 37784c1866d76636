"""Tables and plots of the scaled replication (`benchmarks/replicate.py --scale scaled --report`) for
docs/RESULTS.md, between <!-- replication-scaled:start --> and <!-- replication-scaled:end -->.

Accuracy counts a pair right when the chosen response's score is strictly above 0.5. Length-controlled
accuracy = the mean of the accuracy on pairs whose chosen response is the longer (in characters) and on
those where it is the shorter (pairs of equal length left out; a length-only judge scores 0.5).
Intervals: percentile bootstraps over pairs (2,000 resamples, seed 0); differences between two models
are paired (the same pairs resampled for both).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from bench_docs import replace_section
from replicate_report import wall_times
from replicate_scaled import (
    ADAPT_TASKS,
    FAMILIES,
    FAMILY,
    FINALS,
    FREEZE_CHECK,
    GROUPING_CHECK,
    OOD_SETS,
    ORDERS_CHECK,
    SIZES,
    SWEEP_EPOCHS,
    SWEEP_LRS,
    adapted,
    choose,
    selection_key,
    trial_name,
    trial_results,
    trial_settings,
)

SETS = ["id-test", *OOD_SETS]
MAIN = ["zero-shot", "bt", "stage2-only", "gram-eps0", "gram"]
LABELS = {"zero-shot": "SmolLM2-135M zero-shot", "bt": "Bradley-Terry RM", "stage2-only": "stage 2 only",
          "gram-eps0": "GRAM, eps 0", "gram": "GRAM (stage 1 + 2)",
          "longer": '"longer response wins"', "shorter": '"shorter response wins"'}
CLAIMS = [("gram", "stage2-only", "(1) stage 1 helps: GRAM - stage 2 only"),
          ("gram", "gram-eps0", "(2) label smoothing helps: GRAM - GRAM eps 0"),
          ("gram", "bt", "(3) GRAM generalises better than BT: GRAM - BT")]


class Scored:
    """One model on one set: per pair, right (0/1) and whether the chosen response is the longer (None:
    equal lengths), plus |P(A | a first) - P(A | b first)| and order agreement where the model reads the
    pair in two orders (a reward model scores each response alone: it has none)."""

    def __init__(self, data: Path, scores: Path | None, rule: str | None = None, reward_model: bool = False):
        texts = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
        rows = [json.loads(line) for line in scores.read_text(encoding="utf-8").splitlines()] if scores else texts
        if len(rows) != len(texts):
            raise ValueError(f"{scores}: {len(rows)} rows, but {data} has {len(texts)}")
        self.right, self.longer, self.tie, self.gap, self.agree = [], [], [], [], []
        for t, r in zip(texts, rows):
            if t.get("label") not in ("a", "b"):
                continue
            a, b = len(t["response_a"]), len(t["response_b"])
            chosen_longer = None if a == b else (a > b) == (t["label"] == "a")
            if rule:  # a length-only judge: a coin flip (half credit) where the lengths are equal
                pick_a = (a > b) if rule == "longer" else (a < b)
                self.right.append(0.5 if a == b else int(pick_a == (t["label"] == "a")))
                self.tie.append(a == b)
            else:
                chosen = r["score_a"] if t["label"] == "a" else r["score_b"]
                self.right.append(int(chosen > 0.5))
                self.tie.append(r["score_a"] == r["score_b"])
                if r.get("p_a_ab") is not None and r.get("p_a_ba") is not None and not reward_model:
                    self.gap.append(abs(r["p_a_ab"] - (1 - r["p_a_ba"])))
                    self.agree.append(int((r["p_a_ab"] > 0.5) == (r["p_a_ba"] < 0.5)))
            self.longer.append(chosen_longer)


def accuracy(right: list[int], idx=None) -> float:
    idx = range(len(right)) if idx is None else idx
    return sum(right[i] for i in idx) / len(idx) if len(idx) else float("nan")


def length_controlled(right: list[int], longer: list, idx=None) -> float:
    idx = range(len(right)) if idx is None else idx
    lo = [i for i in idx if longer[i] is True]
    sh = [i for i in idx if longer[i] is False]
    if not lo or not sh:
        return float("nan")
    return (accuracy(right, lo) + accuracy(right, sh)) / 2


def interval(stat, n: int, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap of stat(indices) over n pairs."""
    rng = random.Random(seed)
    values = sorted(stat([rng.randrange(n) for _ in range(n)]) for _ in range(resamples))
    return values[int(0.025 * resamples)], values[int(0.975 * resamples) - 1]


def is_reward_model(model: str) -> bool:
    return model == "bt" or model.startswith(("bt-", "adapt-bt-"))


def pooled(run: Path, model: str, sets=OOD_SETS) -> Scored | None:
    """A model's scores over several sets, concatenated (None until every set is scored)."""
    parts = []
    for s in sets:
        data = run / "data" / f"{s}.jsonl"
        if model in ("longer", "shorter"):
            parts.append(Scored(data, None, rule=model))
            continue
        scores = run / "eval" / ("smollm2-135m" if model == "zero-shot" else model) / s / "scores.jsonl"
        if not scores.exists():
            return None
        parts.append(Scored(data, scores, reward_model=is_reward_model(model)))
    out = parts[0]
    for p in parts[1:]:
        out.right += p.right
        out.longer += p.longer
        out.tie += p.tie
        out.gap += p.gap
        out.agree += p.agree
    return out


def picks_longer(p: Scored) -> float:
    """The share of pairs with unequal lengths (and unequal scores) where the preferred response is the longer."""
    decided = [i for i in range(len(p.right)) if p.longer[i] is not None and not p.tie[i]]
    return sum(p.right[i] == int(p.longer[i]) for i in decided) / len(decided)  # right == chose the longer


def fmt(x: float, lo: float | None = None, hi: float | None = None, sign: str = "") -> str:
    if x != x:
        return "-"
    return f"{x:{sign}.3f}" + (f" [{lo:{sign}.3f}, {hi:{sign}.3f}]" if lo is not None else "")


def short_lr(lr: str) -> str:
    """A learning rate as the sweep plan spells its grid: 2.0e-04 -> 2e-4, 1.5e-04 -> 1.5e-4."""
    mantissa, exponent = f"{float(lr):.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def sweep_table(run: Path) -> list[str]:
    lines = ["### Tuning on the dev split (the only data anything was selected on)", "",
             f"Each run: the first {SIZES['sweep_pairs']} training pairs (adaptation: the first "
             f"{SIZES['adapt_n'][-1]} of the HH-RLHF pool, scored on its dev split), one order per pair, {SWEEP_EPOCHS} "
             "epochs (cosine), scored on dev after each epoch. Cells: length-controlled / plain dev accuracy (both orders "
             "averaged); position consistency: the share of pairs judged the same way in both orders, after each epoch "
             "(a reward model reads each response alone, so it has none); picks the longer: the share of unequal-length pairs "
             "whose longer response it prefers, after each epoch (a length-only judge: 0 or 1). "
             "**Bold**: the family's choice.", "",
             "| family | run | learning rate | eps | " + " | ".join(f"epoch {e}" for e in range(1, SWEEP_EPOCHS + 1))
             + " | position consistency | picks the longer | minutes |", "|---|---|---|---|" + "---|" * (SWEEP_EPOCHS + 3)]
    for family in FAMILY:
        best, generative = choose(run, family), FAMILY[family].generative  # a reward model has no order
        runs = [(trial_name(family, i), i) for i in range(len(SWEEP_LRS) + 1)]
        if family == "stage2-only":
            runs += [(GROUPING_CHECK, 0), (FREEZE_CHECK, best["trial"] if best else None)]
        if family == "gram":
            runs.append((ORDERS_CHECK, best["trial"] if best else None))
        for name, i in runs:
            settings = trial_settings(run, family, i) if i is not None else None
            if settings is None:
                continue
            cells, consistency, longer = [], [], []
            for epoch in range(1, SWEEP_EPOCHS + 1):
                r = trial_results(run, name, epoch)
                cell = "-" if r is None else f"{selection_key(r)[0]:.3f} / {r['overall']:.3f}"
                chosen = best and name == trial_name(family, best["trial"]) and epoch == best["epochs"]
                cells.append(f"**{cell}**" if chosen else cell)
                consistency.append("-" if r is None or not generative else f"{r['position_consistency']:.2f}")
                picks = None if r is None else (r.get("length") or {}).get("picks_longer")
                longer.append("-" if picks is None else f"{picks:.2f}")
            done = run / "done" / f"{name}.json"
            minutes = f"{json.loads(done.read_text())['seconds'] / 60:.0f}" if done.exists() else "-"
            label = {FREEZE_CHECK: f"{i} (no block frozen)", ORDERS_CHECK: f"{i} (both orders)",
                     GROUPING_CHECK: f"{i} (random batches, not grouped by length)"}.get(name, str(i))
            lines.append(f"| {family} | {label} | {short_lr(settings['lr'])} | {settings['eps'] or '-'} | " + " | ".join(cells)
                         + f" | {' / '.join(consistency)} | {' / '.join(longer)} | {minutes} |")
    return lines + [""]


def main_table(run: Path, figures: Path | None = None, plt=None) -> tuple[list[str], dict]:
    """The final models and the length-only rules on every set; with plt, also a plot of their pooled OOD
    accuracy and length-controlled accuracy with 95% intervals (figures/scaled_final_models.png)."""
    lines = ["### Accuracy, both orders averaged (id-test in distribution; the rest out of distribution, OOD)", "",
             "| model | " + " | ".join(SETS) + " | OOD pooled [95% CI] | length-controlled OOD [95% CI] | "
             "picks longer (OOD) | order agreement (OOD) | mean abs P(A) gap between orders |",
             "|---|" + "---|" * (len(SETS) + 5)]
    scored, points = {}, []
    for m in [*MAIN, "longer", "shorter"]:
        per_set = []
        for s in SETS:
            p = pooled(run, m, [s])
            per_set.append("-" if p is None else fmt(accuracy(p.right)))
        p = pooled(run, m)
        if p is None:
            lines.append(f"| {LABELS[m]} | " + " | ".join(per_set) + " | - | - | - | - | - |")
            continue
        scored[m] = p
        n = len(p.right)
        acc_ci = interval(lambda idx: accuracy(p.right, idx), n)
        lc_ci = interval(lambda idx: length_controlled(p.right, p.longer, idx), n)
        points.append((LABELS[m], (accuracy(p.right), *acc_ci), (length_controlled(p.right, p.longer), *lc_ci)))
        acc, lc = fmt(points[-1][1][0], *acc_ci), fmt(points[-1][2][0], *lc_ci)
        picks = picks_longer(p)
        agree = fmt(sum(p.agree) / len(p.agree)) if p.agree else "-"
        gap = fmt(sum(p.gap) / len(p.gap)) if p.gap else "-"
        lines.append(f"| {LABELS[m]} | " + " | ".join(per_set) + f" | {acc} | {lc} | {picks:.3f} | {agree} | {gap} |")
    counts = " / ".join(f"{s} {len(pooled(run, 'longer', [s]).right)}" for s in SETS)
    lines += ["", f"Pairs: {counts}. \"Picks longer\": share of OOD pairs with unequal lengths (and unequal scores) "
              "where the model's preferred response is the longer. Order agreement: share of pairs whose two "
              "presentation orders pick the same response (position consistency; a reward model reads each "
              "response alone, so it has none). A length-only judge gets half credit where the lengths are equal.", ""]
    if plt is not None and points:
        final_models_plot(points, figures, plt)
        lines += ["![final models](results/scaled_final_models.png)", ""]
    return lines, scored


def final_models_plot(points: list, figures: Path, plt) -> None:
    """points: (label, (accuracy, low, high), (length-controlled, low, high)) per model, top to bottom."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.45 * len(points) + 1.2), sharey=True)
    ys = list(range(len(points)))[::-1]
    for ax, k, title in zip(axes, (1, 2), ("OOD accuracy, pooled", "length-controlled OOD accuracy")):
        for y, point in zip(ys, points):
            x, lo, hi = point[k]
            ax.errorbar(x, y, xerr=[[x - lo], [hi - x]], fmt="o", color="#284" if "GRAM" in point[0] else "#69c",
                        capsize=3)
        ax.axvline(0.5, color="k", lw=0.8, ls=":")
        ax.set_title(title + " (95% CI)", fontsize=9)
    axes[0].set_yticks(ys, [p[0] for p in points], fontsize=8)
    fig.tight_layout()
    fig.savefig(figures / "scaled_final_models.png", dpi=110)
    plt.close(fig)


def small_run_table(run: Path, small_run: Path, scored: dict) -> list[str]:
    """Each final model of the small run (320 labeled pairs, nothing tuned) beside its scaled counterpart, each
    on its own run's OOD pairs (the same seven benchmarks, different pairs drawn)."""
    lines = ["### Against the small run (320 labeled pairs, not tuned; each run on its own OOD pairs)", ""]
    if not (small_run / "data").exists():
        return lines + [f"The small run's data is not in {small_run} (`python benchmarks/replicate.py --only data` "
                        "rebuilds it), so this table is left out.", ""]
    lines += ["| model | small run: OOD pooled / length-controlled / picks longer | "
              "scaled run: OOD pooled / length-controlled / picks longer |", "|---|---|---|"]
    for m in MAIN:
        cells = []
        for p in (pooled(small_run, m), scored.get(m)):
            cells.append("-" if p is None else
                         f"{accuracy(p.right):.3f} / {length_controlled(p.right, p.longer):.3f} / {picks_longer(p):.2f}")
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
    sizes = [len(pooled(r, "longer").right) for r in (small_run, run)]
    return lines + ["", f"OOD pairs: small run {sizes[0]}, scaled run {sizes[1]}.", ""]


def claims_table(scored: dict) -> list[str]:
    lines = ["### The paper's claims, OOD pairs pooled (paired bootstrap)", "",
             "| claim | accuracy difference [95% CI] | length-controlled difference [95% CI] |", "|---|---|---|"]
    for a, b, title in CLAIMS:
        if a not in scored or b not in scored:
            lines.append(f"| {title} | not run yet | not run yet |")
            continue
        x, y = scored[a], scored[b]
        n = len(x.right)
        d = accuracy(x.right) - accuracy(y.right)
        d_ci = interval(lambda idx: accuracy(x.right, idx) - accuracy(y.right, idx), n)
        lc = length_controlled(x.right, x.longer) - length_controlled(y.right, y.longer)
        lc_ci = interval(lambda idx: length_controlled(x.right, x.longer, idx) - length_controlled(y.right, y.longer, idx), n)
        lines.append(f"| {title} | {fmt(d, *d_ci, sign='+')} | {fmt(lc, *lc_ci, sign='+')} |")
    return lines + [""]


def learning_curves(run: Path, figures: Path, plt) -> list[str]:
    """Per family and labeled-pair count: id-test accuracy, OOD pooled and length-controlled accuracy (95%
    intervals), the share of OOD pairs where the longer response is preferred and the order agreement; plus
    their plot."""
    sizes = SIZES["train_sizes"]
    lines = ["### Learning curves (OOD pooled; the largest size is the main run)", "",
             "| model | labeled pairs | id-test | OOD pooled [95% CI] | length-controlled OOD [95% CI] | picks longer (OOD) "
             "| order agreement (OOD) |", "|---|---|---|---|---|---|---|"]
    curves = {}
    for family in FAMILIES:
        points = []
        for n in sizes:
            name = family if n == sizes[-1] else f"{family}-{n}"
            p, in_dist = pooled(run, name), pooled(run, name, ["id-test"])
            if p is None:
                lines.append(f"| {LABELS[family]} | {n} | - | - | - | - | - |")
                continue
            acc, lc, k = accuracy(p.right), length_controlled(p.right, p.longer), len(p.right)
            acc_ci = interval(lambda idx: accuracy(p.right, idx), k)
            lc_ci = interval(lambda idx: length_controlled(p.right, p.longer, idx), k)
            lines.append(f"| {LABELS[family]} | {n} | {fmt(accuracy(in_dist.right)) if in_dist else '-'} | "
                         f"{fmt(acc, *acc_ci)} | {fmt(lc, *lc_ci)} | {picks_longer(p):.3f} | "
                         f"{fmt(sum(p.agree) / len(p.agree)) if p.agree else '-'} |")
            points.append((n, (acc, *acc_ci), (lc, *lc_ci)))
        curves[family] = points
    if any(curves.values()):
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
        for i, (family, color) in enumerate(zip(FAMILIES, ("#69c", "#c96", "#284"))):
            pts = curves[family]
            xs = [p[0] * (1 + 0.04 * (i - 1)) for p in pts]  # the families side by side, not on top of each other
            for ax, k in zip(axes, (1, 2)):
                ys, lows, highs = ([p[k][j] for p in pts] for j in range(3))
                ax.errorbar(xs, ys, yerr=[[y - lo for y, lo in zip(ys, lows)], [hi - y for y, hi in zip(ys, highs)]],
                            marker="o", color=color, capsize=3, label=LABELS[family])
        for ax, title in zip(axes, ("OOD accuracy (95% CI)", "length-controlled OOD accuracy (95% CI)")):
            ax.axhline(0.5, color="k", lw=0.8, ls=":")
            ax.set_xscale("log")
            ax.minorticks_off()
            ax.set_xticks(sizes, [str(n) for n in sizes])
            ax.set_xlabel("labeled pairs trained on")
            ax.set_title(title, fontsize=9)
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(figures / "scaled_learning_curves.png", dpi=110)
        plt.close(fig)
        lines += ["", "![learning curves](results/scaled_learning_curves.png)"]
    return lines + [""]


def adaptation_table(run: Path, figures: Path | None = None, plt=None) -> list[str]:
    """Claim 4: accuracy on each task's test side against the task pairs adapted with, GRAM and BT; with
    plt, also a plot per task of accuracy and length-controlled accuracy against n (figures/
    scaled_adaptation_<test>.png)."""
    lines = []
    for task, (_, test, sizes, _) in ADAPT_TASKS.items():
        cells = {}
        for kind in ("gram", "bt"):
            for n in (0, *sizes):
                scores = run / "eval" / adapted(kind, task, n) / test / "scores.jsonl"
                cells[kind, n] = Scored(run / "data" / f"{test}.jsonl", scores) if scores.exists() else None
        if not any(cells.values()):
            continue
        lines += [f"### Adaptation (claim 4): {test} (settings tuned on HH-RLHF dev)", "",
                  "| model | " + " | ".join(f"n = {n}: accuracy / length-controlled" for n in (0, *sizes)) + " |",
                  "|---|" + "---|" * (len(sizes) + 1)]
        for kind in ("gram", "bt"):
            row = []
            for n in (0, *sizes):
                c = cells[kind, n]
                row.append("-" if c is None else f"{accuracy(c.right):.3f} / {length_controlled(c.right, c.longer):.3f}")
            lines.append(f"| {LABELS[kind]} | " + " | ".join(row) + " |")
        row = []
        for n in (0, *sizes):
            g, b = cells["gram", n], cells["bt", n]
            if g is None or b is None:
                row.append("-")
                continue
            d = accuracy(g.right) - accuracy(b.right)
            row.append(fmt(d, *interval(lambda idx: accuracy(g.right, idx) - accuracy(b.right, idx), len(g.right)), sign="+"))
        lines += ["| GRAM - BT, accuracy (paired) | " + " | ".join(row) + " |", ""]
        if plt is not None:
            adaptation_plot(test, {kind: [(n, cells[kind, n]) for n in (0, *sizes) if cells[kind, n]]
                                   for kind in ("gram", "bt")}, figures, plt)
            lines += [f"![adaptation on {test}](results/scaled_adaptation_{test}.png)", ""]
    return lines


def adaptation_plot(test: str, curves: dict, figures: Path, plt) -> None:
    """curves: model kind -> [(task pairs adapted with, Scored)]."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for kind, color in (("gram", "#284"), ("bt", "#69c")):
        pts = curves[kind]
        xs = [n for n, _ in pts]
        axes[0].plot(xs, [accuracy(c.right) for _, c in pts], marker="o", color=color, label=LABELS[kind])
        axes[1].plot(xs, [length_controlled(c.right, c.longer) for _, c in pts], marker="o", color=color)
    for ax, title in zip(axes, ("accuracy", "length-controlled accuracy")):
        ax.axhline(0.5, color="k", lw=0.8, ls=":")
        ax.set_xlabel(f"task pairs adapted with ({test})")
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(figures / f"scaled_adaptation_{test}.png", dpi=110)
    plt.close(fig)


def data_table(run: Path) -> list[str]:
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


def write_report(run: Path, stages, docs: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = docs / "results"
    figures.mkdir(parents=True, exist_ok=True)
    table, scored = main_table(run, figures, plt)
    lines = [*sweep_table(run), *table, *claims_table(scored),
             *small_run_table(run, run.parent / "replicate", scored), *learning_curves(run, figures, plt),
             *adaptation_table(run, figures, plt), *data_table(run),
             *wall_times(run, stages, "Wall time per stage (2 CPU cores, fp32)")]
    blind = sorted(p.parent.name for p in (Path(__file__).resolve().parent / "results" / "replicate" / "blind")
                   .glob("*/scores.jsonl"))
    lines += [f"Blind set (`../shared/blind/pairs.jsonl`, labels not in the project): scores archived for "
              f"{', '.join(blind) if blind else 'no model yet'} in benchmarks/results/replicate/blind/.", ""]
    missing = [m for m in FINALS if m not in scored and pooled(run, m) is None]
    if missing:
        lines += [f"Not run yet: {', '.join(missing)}.", ""]
    path = docs / "RESULTS.md"
    replace_section(path, "replication-scaled", "\n".join(lines))
    print(f"wrote {path}")
