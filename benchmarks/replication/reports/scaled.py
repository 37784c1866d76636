"""The scaled run's page (docs/results/scaled.md): the dev sweep, the final models, the paper's claims, the
small run beside it, learning curves, adaptation, data and wall times.

Accuracy counts a pair right when the chosen response's score is strictly above 0.5. Length-controlled
accuracy = the mean of the accuracy on pairs whose chosen response is the longer (in characters) and on
those where it is the shorter (pairs of equal length left out; a length-only judge scores 0.5).
Intervals: percentile bootstraps over pairs (2,000 resamples, seed 0); differences between two models
are paired (the same pairs resampled for both).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from ..plans import scaled as plan
from ..plans import small
from ..plans.scaled import FAMILIES, FAMILY, FINALS, OOD_SETS, SIZES, SWEEP_EPOCHS, SWEEP_LRS, TASKS
from ..stages import adapted_name
from ..sweep import (
    FREEZE_CHECK,
    GROUPING_CHECK,
    ORDERS_CHECK,
    choose,
    selection_key,
    trial_name,
    trial_results,
    trial_settings,
)
from .common import accuracy, data_table, fmt, interval, pyplot, wall_times
from .common import page as whole_page

SETS = plan.SETS
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
    pair in two orders, and how far from a coin it answers: the mean over the two orders of |P(A) - 0.5| (a
    reward model scores each response alone: it has none of these)."""

    PER_PAIR = ("right", "longer", "tie", "gap", "agree", "confidence")  # lists pooled() concatenates

    def __init__(self, data: Path, scores: Path | None, rule: str | None = None, reward_model: bool = False):
        texts = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
        rows = [json.loads(line) for line in scores.read_text(encoding="utf-8").splitlines()] if scores else texts
        if len(rows) != len(texts):
            raise ValueError(f"{scores}: {len(rows)} rows, but {data} has {len(texts)}")
        for name in self.PER_PAIR:
            setattr(self, name, [])
        self._summary = None
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
                    self.confidence.append((abs(r["p_a_ab"] - 0.5) + abs(r["p_a_ba"] - 0.5)) / 2)
            self.longer.append(chosen_longer)

    def summary(self) -> dict:
        """summarize(self), computed once (the bootstraps take a few seconds)."""
        if self._summary is None:
            self._summary = summarize(self)
        return self._summary


def length_controlled(right: list[int], longer: list, idx=None) -> float:
    idx = range(len(right)) if idx is None else idx
    lo = [i for i in idx if longer[i] is True]
    sh = [i for i in idx if longer[i] is False]
    if not lo or not sh:
        return float("nan")
    return (accuracy(right, lo) + accuracy(right, sh)) / 2


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
        for name in Scored.PER_PAIR:
            getattr(out, name).extend(getattr(p, name))
    return out


def picks_longer(p: Scored) -> float:
    """The share of pairs with unequal lengths (and unequal scores) where the preferred response is the longer
    (nan when there is none, e.g. a model that scores every pair a tie)."""
    decided = [i for i in range(len(p.right)) if p.longer[i] is not None and not p.tie[i]]
    return accuracy([int(p.right[i] == int(p.longer[i])) for i in decided])  # right == chose the longer


def summarize(p: Scored) -> dict:
    """One model's figures over a pool of pairs: accuracy and length-controlled accuracy, each as (value, 95%
    low, high); the share of pairs where it prefers the longer response; order agreement and mean
    |P(A | a first) - P(A | b first)|; the median over pairs of Scored.confidence (nan for a reward model,
    which reads each response alone)."""
    n = len(p.right)
    return {"accuracy": (accuracy(p.right), *interval(lambda idx: accuracy(p.right, idx), n)),
            "length_controlled": (length_controlled(p.right, p.longer),
                                  *interval(lambda idx: length_controlled(p.right, p.longer, idx), n)),
            "picks_longer": picks_longer(p), "agreement": accuracy(p.agree), "gap": accuracy(p.gap),
            "confidence": statistics.median(p.confidence) if p.confidence else float("nan")}


def summary_cells(f: dict) -> str:
    """A summary()'s accuracy and length-controlled accuracy with intervals, picks longer, order agreement:
    four table cells."""
    return (f"{fmt(*f['accuracy'])} | {fmt(*f['length_controlled'])} | {fmt(f['picks_longer'])} | "
            f"{fmt(f['agreement'])}")


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
    """The final models and the length-only rules on every set, and their summary() over the OOD sets pooled
    (returned by model); with plt, also a plot of the pooled OOD accuracy and length-controlled accuracy with
    95% intervals (figures/scaled_final_models.png)."""
    lines = ["### Accuracy, both orders averaged (id-test in distribution; the rest out of distribution, OOD)", "",
             "| model | " + " | ".join(SETS) + " | OOD pooled [95% CI] | length-controlled OOD [95% CI] | "
             "picks longer (OOD) | order agreement (OOD) | mean abs P(A) gap between orders | median abs P(A) - 0.5 |",
             "|---|" + "---|" * (len(SETS) + 6)]
    scored = {}
    for m in [*MAIN, "longer", "shorter"]:
        per_set = []
        for s in SETS:
            p = pooled(run, m, [s])
            per_set.append("-" if p is None else fmt(accuracy(p.right)))
        p = pooled(run, m)
        if p is None:
            lines.append(f"| {LABELS[m]} | " + " | ".join(per_set) + " | - | - | - | - | - | - |")
            continue
        scored[m] = p
        f = p.summary()
        lines.append(f"| {LABELS[m]} | " + " | ".join(per_set) + f" | {summary_cells(f)} | {fmt(f['gap'])} | "
                     f"{fmt(f['confidence'])} |")
    counts = " / ".join(f"{s} {len(pooled(run, 'longer', [s]).right)}" for s in SETS)
    lines += ["", f"Pairs: {counts}. \"Picks longer\": share of OOD pairs with unequal lengths (and unequal scores) "
              "where the model's preferred response is the longer. Order agreement: share of pairs whose two "
              "presentation orders pick the same response (position consistency; a reward model reads each "
              "response alone, so it has none). Median abs P(A) - 0.5: per pair, how far from 50/50 the model answers "
              "(the mean over the two orders), its median over the OOD pairs; 0 is a judge that always says 50/50. A "
              "length-only judge gets half credit where the lengths are equal.", ""]
    if plt is not None and scored:
        final_models_plot(scored, figures, plt)
        lines += ["![final models](scaled_final_models.png)", ""]
    return lines, scored


def error_bars(values: list[tuple[float, float, float]]) -> list[list[float]]:
    """(value, low, high) per point -> matplotlib's [[below], [above]], never negative (a percentile interval
    need not hold its point estimate)."""
    return [[max(0.0, v - lo) for v, lo, _ in values], [max(0.0, hi - v) for v, _, hi in values]]


def final_models_plot(scored: dict, figures: Path, plt) -> None:
    """scored: model -> Scored with its summary(), top to bottom; GRAMs green, the rules grey."""
    models = list(scored)
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.45 * len(models) + 1.2), sharey=True)
    ys = list(range(len(models)))[::-1]
    for ax, k, title in zip(axes, ("accuracy", "length_controlled"), ("OOD accuracy, pooled", "length-controlled OOD accuracy")):
        for y, m in zip(ys, models):
            point = scored[m].summary()[k]
            color = "#284" if m.startswith("gram") else "#999" if m in ("longer", "shorter") else "#69c"
            ax.errorbar(point[0], y, xerr=error_bars([point]), fmt="o", color=color, capsize=3)
        ax.axvline(0.5, color="k", lw=0.8, ls=":")
        ax.set_title(title + " (95% CI)", fontsize=9)
    axes[0].set_yticks(ys, [LABELS[m] for m in models], fontsize=8)
    fig.tight_layout()
    fig.savefig(figures / "scaled_final_models.png", dpi=110)
    plt.close(fig)


def small_run_table(run: Path, small_run: Path, scored: dict) -> list[str]:
    """Each final model of the small run (its 320 labeled pairs, nothing tuned) and "longer wins" beside their
    scaled counterparts, each run on its own OOD pairs: the same six benchmarks (the small run's rmb-test, in
    distribution, left out), but different pairs drawn in different proportions."""
    if not (small_run / "done" / "data.json").exists():
        return ["### Against the small run", "", f"The small run's data is not in {small_run} (`python "
                "benchmarks/replicate.py --only data` rebuilds it), so this table is left out.", ""]
    labeled = json.loads((small_run / "data" / "manifest.json").read_text())["files"]["stage2_train"]["pairs"]
    lines = [f"### Against the small run ({labeled} labeled pairs, not tuned; each run on its own OOD pairs)", ""]
    lines += ["| model | small run: OOD pooled [95% CI] / length-controlled / picks longer | "
              "scaled run: OOD pooled [95% CI] / length-controlled / picks longer |", "|---|---|---|"]
    for m in [*MAIN, "longer"]:
        cells = []
        for p in (pooled(small_run, m), scored.get(m)):
            f = None if p is None else p.summary()
            cells.append("-" if f is None else
                         f"{fmt(*f['accuracy'])} / {fmt(f['length_controlled'][0])} / {fmt(f['picks_longer'])}")
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
    counts = [" / ".join(f"{s} {len(pooled(r, 'longer', [s]).right)}" for s in OOD_SETS) for r in (small_run, run)]
    return lines + ["", f"OOD pairs: small run {counts[0]}; scaled run {counts[1]}. The pools weigh the benchmarks "
                    "differently (llmbar-adversarial, where \"longer wins\" scores about 0.2, is a larger share of "
                    "the scaled pool), so compare each model with its own run's \"longer wins\" row.", ""]


def paired_differences(x: Scored, y: Scored) -> tuple[str, str]:
    """x - y on the same pairs, accuracy and length-controlled accuracy, each with its paired 95% interval
    (both models resampled with the same indices), formatted with their sign."""
    def cell(stat):
        return fmt(stat(x) - stat(y), *interval(lambda idx: stat(x, idx) - stat(y, idx), len(x.right)), sign="+")

    return (cell(lambda p, idx=None: accuracy(p.right, idx)),
            cell(lambda p, idx=None: length_controlled(p.right, p.longer, idx)))


def claims_table(scored: dict) -> list[str]:
    lines = ["### The paper's claims, OOD pairs pooled (paired bootstrap)", "",
             "| claim | accuracy difference [95% CI] | length-controlled difference [95% CI] |", "|---|---|---|"]
    for a, b, title in CLAIMS:
        if a not in scored or b not in scored:
            lines.append(f"| {title} | not run yet | not run yet |")
            continue
        lines.append(f"| {title} | " + " | ".join(paired_differences(scored[a], scored[b])) + " |")
    return lines + [""]


COLORS = {"stage2-only": "#69c", "bt": "#c96", "gram": "#284"}


def learning_curves(run: Path, figures: Path, plt, scored: dict | None = None) -> list[str]:
    """Per family and labeled-pair count: id-test accuracy, then over the OOD sets pooled its summary():
    accuracy and length-controlled accuracy (95% intervals), the share of pairs where the longer response is
    preferred, the order agreement; plus their plot. scored: main_table's models, for the largest size."""
    sizes, scored = SIZES["train_sizes"], scored or {}
    lines = ["### Learning curves (id-test in distribution; the rest over the OOD sets pooled; the largest size "
             "is the main run)", "",
             "| model | labeled pairs | id-test | OOD pooled [95% CI] | length-controlled OOD [95% CI] | picks longer (OOD) "
             "| order agreement (OOD) | median abs P(A) - 0.5 (OOD) |", "|---|---|---|---|---|---|---|---|"]
    curves = {}
    for family in FAMILIES:
        points = []
        for n in sizes:
            name = family if n == sizes[-1] else f"{family}-{n}"
            p = scored.get(name) or pooled(run, name)  # main_table has the largest size already
            if p is None:
                lines.append(f"| {LABELS[family]} | {n} | - | - | - | - | - | - |")
                continue
            in_dist, f = pooled(run, name, ["id-test"]), p.summary()
            lines.append(f"| {LABELS[family]} | {n} | {fmt(accuracy(in_dist.right)) if in_dist else '-'} | "
                         f"{summary_cells(f)} | {fmt(f['confidence'])} |")
            points.append((n, p))
        curves[LABELS[family]] = (COLORS[family], points)
    in_dist_pairs = len(pooled(run, "longer", ["id-test"]).right)
    lines += ["", f"Picks longer, order agreement and abs P(A) - 0.5 as under the accuracy table; id-test has {in_dist_pairs} pairs "
              f"(no interval shown: about +-{1.96 * 0.5 / in_dist_pairs ** 0.5:.2f})."]
    if any(points for _, points in curves.values()):
        curves_plot(curves, "labeled pairs trained on", figures / "scaled_learning_curves.png", plt, log=True)
        lines += ["", "![learning curves](scaled_learning_curves.png)"]
    return lines + [""]


def curves_plot(curves: dict, xlabel: str, path: Path, plt, log: bool = False) -> None:
    """curves: label -> (colour, [(x, Scored)]). Two panels, accuracy and length-controlled accuracy, each
    point with its 95% interval; the curves drawn a little apart so that their intervals do not overlap."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    ticks = sorted({x for _, points in curves.values() for x, _ in points})
    span = (ticks[-1] - ticks[0]) or 1
    for i, (label, (color, points)) in enumerate(curves.items()):
        if not points:
            continue
        offset = i - (len(curves) - 1) / 2
        xs = [x * (1 + 0.04 * offset) if log else x + 0.015 * span * offset for x, _ in points]
        for ax, key in zip(axes, ("accuracy", "length_controlled")):
            values = [p.summary()[key] for _, p in points]
            ax.errorbar(xs, [v[0] for v in values], yerr=error_bars(values), marker="o", color=color, capsize=3,
                        label=label)
    for ax, title in zip(axes, ("accuracy (95% CI)", "length-controlled accuracy (95% CI)")):
        ax.axhline(0.5, color="k", lw=0.8, ls=":")
        if log:
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_xticks(ticks, [str(x) for x in ticks])
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def adaptation_table(run: Path, figures: Path | None = None, plt=None) -> list[str]:
    """Claim 4: per task, GRAM and BT adapted with n of its pairs (n = 0: the stage-2 models), each on the
    task's test side: accuracy and length-controlled accuracy (95% intervals), the share of pairs where the
    longer response is preferred, the order agreement; "longer wins" on the same pairs; GRAM - BT per n
    (paired). With plt (and figures), also a plot per task against n (figures/scaled_adaptation_<test>.png)."""
    lines = []
    for t in TASKS.values():
        pool, test, sizes = t.pool, t.test, SIZES[t.sizes]
        data = run / "data" / f"{test}.jsonl"
        cells = {}
        for kind in ("gram", "bt"):
            for n in (0, *sizes):
                scores = run / t.tag / adapted_name(kind, t, n) / test / "scores.jsonl"
                reward_model = is_reward_model(adapted_name(kind, t, n))
                cells[kind, n] = Scored(data, scores, reward_model=reward_model) if scores.exists() else None
        if not any(cells.values()):
            continue
        rule = Scored(data, None, rule="longer")
        lines += [f"### Adaptation (claim 4): {test}, {len(rule.right)} pairs "
                  "(settings tuned on HH-RLHF dev)", "",
                  "| model | task pairs adapted with | accuracy [95% CI] | length-controlled [95% CI] | picks longer "
                  "| order agreement |", "|---|---|---|---|---|---|"]
        for kind in ("gram", "bt"):
            for n in (0, *sizes):
                c = cells[kind, n]
                lines.append(f"| {LABELS[kind]} | {n} | " + ("- | - | - | -" if c is None else summary_cells(c.summary())) + " |")
        lines.append(f"| {LABELS['longer']} | - | {summary_cells(rule.summary())} |")
        lines += ["", "| GRAM - BT (paired) | " + " | ".join(f"n = {n}" for n in (0, *sizes)) + " |",
                  "|---|" + "---|" * (len(sizes) + 1)]
        differences = [("-", "-") if cells["gram", n] is None or cells["bt", n] is None
                       else paired_differences(cells["gram", n], cells["bt", n]) for n in (0, *sizes)]
        for k, name in enumerate(("accuracy", "length-controlled")):
            lines.append(f"| {name} | " + " | ".join(d[k] for d in differences) + " |")
        lines.append("")
        if plt is not None:
            curves = {LABELS[kind]: (COLORS[kind], [(n, cells[kind, n]) for n in (0, *sizes) if cells[kind, n] is not None])
                      for kind in ("gram", "bt")}
            curves_plot(curves, f"{pool} pairs adapted with (scored on {test})",
                        figures / t.plot, plt)
            lines += [f"![adaptation on {test}]({t.plot})", ""]
    return lines


def blind_line(run: Path) -> list[str]:
    blind = sorted(p.parent.name for p in (run / "blind").glob("*/scores.jsonl"))
    return [f"Blind set (`../shared/blind/pairs.jsonl`, labels not in the project): scores archived for "
            f"{', '.join(blind) if blind else 'no model yet'} in benchmarks/results/{plan.RUN_DIR}/blind/.", ""]


def page(run: Path, stages, figures: Path) -> str:
    """docs/results/scaled.md, whole; the plots written to `figures`. The small run is read beside this one
    (run/../replicate), for the table that compares the two."""
    plt = pyplot()
    figures.mkdir(parents=True, exist_ok=True)
    table, scored = main_table(run, figures, plt)
    lines = [*sweep_table(run), *table, *claims_table(scored),
             *small_run_table(run, run.parent / small.RUN_DIR, scored), *learning_curves(run, figures, plt, scored),
             *adaptation_table(run, figures, plt), *data_table(run),
             *wall_times(run, stages, "Wall time per stage (2 CPU cores, fp32)"), *blind_line(run)]
    missing = [m for m in FINALS if m not in scored and pooled(run, m) is None]
    if missing:
        lines += [f"Not run yet: {', '.join(missing)}.", ""]
    return whole_page(plan, "scaled", lines)
