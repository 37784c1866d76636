"""The scaled replication (issue 18): `python benchmarks/replicate.py --scale scaled`.

The small run (replicate.py's own plan) stays as it is, a row for comparison. This plan differs where the
small run could not tell content from length:
- stage 2 on RMB pairwise without Summarization plus the AlpacaEval GPT-4 annotations, judge prompt
  <= 768 tokens, length-balanced (`gram.data.balance`: "chosen is the longer" a coin flip within buckets of
  relative length difference), each pair in a seeded random order (so one presentation order per pair
  carries no position signal), nested training sets (the first 250 / 1,000 / 2,000 pairs);
- a dev split drawn by prompt from the same sources (length-balanced too): every model's learning rate,
  epochs and label smoothing are chosen on it, never on an evaluation set;
- stage 1 on 4,000 unlabeled pairs; more out-of-distribution pairs, so that intervals resolve ~0.03;
- the blind set scored by every final model (`blind_stage`).

Tuning (same budget for every family: four training runs of two epochs, each scored on the dev split
after each epoch, so eight dev evaluations): learning rates 2e-5, 1e-4 and 4e-4 on the sweep subset
(the first SWEEP_PAIRS training pairs, one order per pair, the lower 15 of 30 blocks frozen); the
fourth run is eps 0.3 at the best (lr, epochs) for the generative families and, for BT (which has no
eps), one more learning rate beyond the best one. "Epochs" is read off the run's checkpoint after epoch
1 (mid-schedule) and its end. The criterion is length-controlled dev accuracy (mean of the accuracy on
pairs whose chosen response is the longer and on those where it is the shorter), then plain accuracy,
then the earlier run.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from replicate_plan import Stage, stage1_pairs

SEED = 0
SIZES = {
    "stage1_pairs": 4000, "train_sizes": (250, 1000, 2000), "dev": 200, "id_test": 200, "sweep_pairs": 400,
    "eval_per_set": 300, "pandalm": 150, "judgebench": 60, "hh_test": 300, "hh_dev": 100, "hh_pool": 400, "adapt_n": (50, 200),
    "summ_test": 60, "summ_adapt_n": (40, 80),
}
LIMITS = {"stage1_tokens": 384, "stage2_tokens": 768, "eval_tokens": 768, "judgebench_tokens": 1024,
          "hh_tokens": 512, "summ_tokens": 1024, "blind_tokens": 1024}
OOD_SETS = ["judgebench", "llmbar-natural", "llmbar-adversarial", "hhh", "pandalm", "mt-bench"]
FREEZE = ["--freeze-layers", "15"]
BATCH = ["--batch-size", "4", "--grad-accum", "4"]  # 16 pairs per optimizer step
SWEEP_LRS = ("2e-5", "1e-4", "4e-4")
SWEEP_EPOCHS = 2
FAMILIES = ("stage2-only", "bt", "gram")  # gram: stage 2 on the stage-1 model


# ---------------------------------------------------------------- data

def build_data(run: Path) -> None:
    from transformers import AutoTokenizer

    from gram.backbone import resolve
    from gram.data.balance import balance_length
    from gram.data.splits import split_by_prompt
    from gram.eval.benchmarks import BENCHMARKS, data_dir
    from gram.formats import read
    from gram.io import write_json_atomic, write_jsonl_atomic
    from gram.records import PreferencePair, prompt_key
    from gram.templates import encode_judge

    shared = data_dir()
    out = run / "data"
    tokenizer = AutoTokenizer.from_pretrained(resolve("smollm2-135m"))
    manifest: dict = {"seed": SEED, "sizes": SIZES, "limits": LIMITS, "files": {}}

    def short(pairs, limit):  # a character bound first: tokenizing 14k long RMB pairs takes minutes
        return [p for p in pairs if len(json.dumps([p.prompt, p.response_a, p.response_b])) < 8 * limit
                and len(encode_judge(tokenizer, p.prompt, p.response_a, p.response_b, template="gram").input_ids) <= limit]

    def save(name: str, pairs: list[PreferencePair], note: str, **extra) -> None:
        write_jsonl_atomic(out / f"{name}.jsonl", (p.to_row() for p in pairs))
        manifest["files"][name] = {"pairs": len(pairs), "note": note, **extra}
        print(f"  {name}: {len(pairs)} pairs ({note})", flush=True)

    def keys(pairs) -> set[str]:
        return {prompt_key(p.prompt) for p in pairs}

    # Evaluation sets first: every training source is cleaned of their prompts.
    held_out: set[str] = set()
    for name in OOD_SETS:
        b = BENCHMARKS[name]
        pairs = [p for p in read(b.format, shared / b.path).records if p.label != "tie"]
        held_out |= keys(pairs)
        if name == "judgebench":
            chosen = random.Random(SEED).sample(pairs, min(SIZES["judgebench"], len(pairs)))
            note = f"seeded sample of {len(pairs)}, read cut to {LIMITS['judgebench_tokens']} tokens"
        else:
            fit = short(pairs, LIMITS["eval_tokens"])
            n = SIZES["pandalm"] if name == "pandalm" else SIZES["eval_per_set"]
            chosen = random.Random(SEED).sample(fit, min(n, len(fit)))
            note = f"seeded sample of the {len(fit)} of {len(pairs)} pairs <= {LIMITS['eval_tokens']} tokens"
        save(name, chosen, note)

    hh = short(read("hh-rlhf", shared / "hh-rlhf/harmless-base/test.jsonl.gz").records, LIMITS["hh_tokens"])
    pool, test = split_by_prompt(hh, SIZES["hh_test"], seed=SEED)
    pool = [p for p in pool if prompt_key(p.prompt) not in held_out]
    pool, hh_dev = split_by_prompt(pool, SIZES["hh_dev"], seed=SEED)
    random.Random(SEED).shuffle(pool)
    save("hh-test", test, f"HH-RLHF harmless-base test, <= {LIMITS['hh_tokens']} tokens, split by prompt")
    save("hh-dev", hh_dev, "HH-RLHF dev split (other prompts): adaptation settings are chosen on it only")
    save("hh_pool", pool[:SIZES["hh_pool"]], "adaptation pool (other prompts than test and dev), shuffled; "
         "--limit n takes the first n")
    held_out |= keys(test) | keys(hh_dev)

    rmb = read("rmb-pairwise", shared / "rmb/RMB_dataset/Pairwise_set").records
    summ = short([p for p in rmb if "Summarization" in p.category and prompt_key(p.prompt) not in held_out],
                 LIMITS["summ_tokens"])
    pool, test = split_by_prompt(summ, SIZES["summ_test"], seed=SEED)
    random.Random(SEED).shuffle(pool)
    save("summ-test", test, f"RMB Summarization, <= {LIMITS['summ_tokens']} tokens, split by prompt")
    save("summ_pool", pool, "adaptation pool (other prompts), shuffled; --limit n takes the first n")
    held_out |= keys(summ)

    # Labeled training sources: length-balanced, then split by prompt into dev, in-distribution test, train.
    annotations = read("alpaca-eval-annotations", shared / "alpaca-eval/results", skip_bad=True)
    labeled, counts = [], {"alpaca-eval-annotations without a preference (left out)": len(annotations.rejects)}
    for name, pairs in [
        ("rmb", [p for p in rmb if "Summarization" not in p.category]),
        ("alpaca-eval-annotations", annotations.records),
    ]:
        pairs = short([p for p in pairs if p.label in ("a", "b") and prompt_key(p.prompt) not in held_out],
                      LIMITS["stage2_tokens"])
        kept, report = balance_length(pairs, random.Random(SEED))
        counts[name] = {"short": len(pairs), "balanced": len(kept), "buckets": report["buckets"]}
        labeled += kept
    rng = random.Random(SEED)
    labeled = [p.swapped() if rng.random() < 0.5 else p for p in labeled]  # one random order per pair
    rest, dev = split_by_prompt(labeled, SIZES["dev"], seed=SEED)
    train, id_test = split_by_prompt(rest, SIZES["id_test"], seed=SEED + 1)
    random.Random(SEED).shuffle(train)
    if len(train) < max(SIZES["train_sizes"]):
        raise SystemExit(f"replicate: only {len(train)} training pairs, {max(SIZES['train_sizes'])} needed")
    save("dev", dev, "dev split by prompt (RMB + AlpacaEval annotations, length-balanced): model selection only")
    save("id-test", id_test, "in-distribution test, other prompts than dev and train")
    save("train", train[:max(SIZES["train_sizes"])],
         f"stage-2 training pairs, shuffled; nested: --limit n takes the first n; of {len(train)}", sources=counts)
    held_out |= keys(dev) | keys(id_test)

    stage1, drawn = stage1_pairs(shared, held_out, tokenizer, LIMITS["stage1_tokens"], SIZES["stage1_pairs"],
                                 per_prompt=32, seed=SEED)
    save("stage1", stage1, f"unlabeled pairs (AlpacaEval, Arena-Hard v0.1, AlpacaFarm), of {drawn}")
    write_json_atomic(out / "manifest.json", manifest)


# ---------------------------------------------------------------- tuning

@dataclass(frozen=True)
class Family:
    """A kind of run tuned on its own: the command, the model it starts from (a name under models/, or the
    backbone), its training and dev files, the pairs a sweep run trains on, its max-length key."""
    verb: str
    base: str
    train: str
    dev: str
    sweep_pairs: int
    limit: str
    generative: bool


FAMILY = {
    "stage2-only": Family("finetune", "smollm2-135m", "train", "dev", SIZES["sweep_pairs"], "stage2_tokens", True),
    "bt": Family("train-bt", "smollm2-135m", "train", "dev", SIZES["sweep_pairs"], "stage2_tokens", False),
    "gram": Family("finetune", "stage1", "train", "dev", SIZES["sweep_pairs"], "stage2_tokens", True),
    # adaptation (claim 4): tuned on HH-RLHF's dev split with the largest n; RMB Summarization has too few
    # pairs for a dev split of its own (99 in its pool) and uses the same choice.
    "adapt-gram": Family("adapt", "gram", "hh_pool", "hh-dev", SIZES["adapt_n"][-1], "hh_tokens", True),
    "adapt-bt": Family("train-bt", "bt", "hh_pool", "hh-dev", SIZES["adapt_n"][-1], "hh_tokens", False),
}


def base_model(run: Path, family: str) -> str:
    base = FAMILY[family].base
    return base if base == "smollm2-135m" else str(run / "models" / base)


def steps_per_epoch(pairs: int, examples_per_pair: int = 1) -> int:
    return math.ceil(math.ceil(pairs * examples_per_pair / 4) / 4)


def trial_name(family: str, i: int) -> str:
    return f"sweep-{family}-{i}"


FREEZE_CHECK, ORDERS_CHECK, GROUPING_CHECK = "check-no-freezing", "check-both-orders", "check-random-batches"


def grouping_check_stage(run: Path) -> Stage:
    """Efficiency, measured: the first stage-2-only trial with random batches (transformers' default)
    instead of batches grouped by length (gram's): wall time and dev accuracy against that trial."""
    return sweep_stage(run, "stage2-only", 0, name=GROUPING_CHECK, extra=("--no-group-by-length",))


def freeze_check_stage(run: Path) -> Stage:
    """Efficiency, measured: the best stage-2-only trial again with no block frozen (dev accuracy and wall
    time against the frozen run: freezing is kept only if it costs no dev accuracy beyond noise)."""
    best = choose(run, "stage2-only")
    if best is None:
        return waiting(FREEZE_CHECK, "the stage2-only sweep")
    return sweep_stage(run, "stage2-only", best["trial"], freeze=[], name=FREEZE_CHECK)


def orders_check_stage(run: Path) -> Stage:
    """Both presentation orders per pair against one random order, measured: GRAM's best trial again with
    both orders (twice the examples, so twice the steps per epoch): dev accuracy, order agreement and wall
    time against the one-order run."""
    best = choose(run, "gram")
    if best is None:
        return waiting(ORDERS_CHECK, "the gram sweep")
    return sweep_stage(run, "gram", best["trial"], name=ORDERS_CHECK, both_orders=True)


def trial_settings(run: Path, family: str, i: int) -> dict | None:
    """Trial i's settings: the three learning rates, then the family's fourth run (None until the first
    three have been scored)."""
    if i < len(SWEEP_LRS):
        return {"lr": SWEEP_LRS[i], "eps": "0.1" if FAMILY[family].generative else None}
    best = choose(run, family, trials=range(len(SWEEP_LRS)))
    if best is None:
        return None
    if FAMILY[family].generative:
        return {"lr": best["lr"], "eps": "0.3"}
    lrs = [float(x) for x in SWEEP_LRS]
    k = lrs.index(float(best["lr"]))
    beyond = lrs[k] ** 2 / lrs[k - 1] if k == len(lrs) - 1 else (lrs[0] ** 2 / lrs[1] if k == 0 else None)
    if beyond is None:  # the best is in the middle: halfway (geometric) toward the better neighbour
        lo, hi = dev_score(run, trial_name(family, k - 1)), dev_score(run, trial_name(family, k + 1))
        beyond = math.sqrt(lrs[k] * (lrs[k - 1] if lo >= hi else lrs[k + 1]))
    return {"lr": f"{beyond:.1e}", "eps": None}


def trial_eval_dir(run: Path, name: str, epoch: int) -> Path:
    return run / "sweep-eval" / name / f"epoch{epoch}"


def trial_results(run: Path, name: str, epoch: int) -> dict | None:
    folder = trial_eval_dir(run, name, epoch)
    found = list(folder.glob("*/*/results.json"))  # checkpoint-N/<dev set>/results.json
    if len(found) > 1:
        raise SystemExit(f"replicate: {folder} holds {len(found)} results; one checkpoint's evaluation expected")
    return json.loads(found[0].read_text()) if found else None


def selection_key(results: dict) -> tuple[float, float]:
    length = results.get("length") or {}
    controlled = length.get("length_controlled_accuracy")
    return (controlled if controlled is not None else results["overall"], results["overall"])


def dev_score(run: Path, name: str) -> float:
    scores = [selection_key(r)[0] for e in range(1, SWEEP_EPOCHS + 1) if (r := trial_results(run, name, e))]
    return max(scores) if scores else -1.0


def choose(run: Path, family: str, trials: range | None = None) -> dict | None:
    """The best (lr, epochs, eps) over the family's scored trials; None while any of them is unscored."""
    best, best_key = None, None
    for i in trials if trials is not None else range(len(SWEEP_LRS) + 1):
        settings = trial_settings(run, family, i)
        if settings is None:
            return None
        for epoch in range(1, SWEEP_EPOCHS + 1):
            results = trial_results(run, trial_name(family, i), epoch)
            if results is None:
                return None
            key = selection_key(results)
            if best_key is None or key > best_key:
                best, best_key = {**settings, "epochs": epoch, "trial": i, "dev": key}, key
    return best


def sweep_stage(run: Path, family: str, i: int, freeze: list[str] = FREEZE, name: str | None = None,
                both_orders: bool = False, extra: tuple[str, ...] = ()) -> Stage:
    """Train one trial for SWEEP_EPOCHS on the sweep subset, keep the checkpoint of each epoch, score each
    on the dev split, then delete the models (the final runs retrain with the chosen settings)."""
    name = name or trial_name(family, i)
    data, model_dir = run / "data", run / "sweep-models" / name
    settings = trial_settings(run, family, i)
    if settings is None:
        return waiting(name, f"the first {len(SWEEP_LRS)} {family} trials")
    f = FAMILY[family]
    steps = steps_per_epoch(f.sweep_pairs, 2 if both_orders else 1)
    command = ["gram", f.verb, "--train-file", str(data / f"{f.train}.jsonl"), "--limit", str(f.sweep_pairs),
               "--output-dir", str(model_dir), "--max-length", str(LIMITS[f.limit]), *BATCH,
               "--learning-rate", settings["lr"], "--epochs", str(SWEEP_EPOCHS), "--lr-scheduler", "cosine",
               "--warmup-ratio", "0.1", "--seed", "42", "--logging-steps", "5", "--save-steps", str(steps),
               "--save-total-limit", str(SWEEP_EPOCHS), "--keep-checkpoints", *freeze]
    if f.generative:
        command += ["--label-smoothing", settings["eps"], "--both-orders" if both_orders else "--no-both-orders"]
    command += ["--model", base_model(run, family), *extra]
    commands, creates = [command], [str(model_dir / "train_summary.json")]
    for epoch in range(1, SWEEP_EPOCHS + 1):
        out = trial_eval_dir(run, name, epoch)
        checkpoint = model_dir / f"checkpoint-{steps * epoch}"
        commands.append(["gram", "eval", "--model", str(checkpoint), "--benchmark", str(data / f"{f.dev}.jsonl"),
                         "--output", str(out), "--template", "gram", "--quiet"])
        creates.append(str(out / checkpoint.name / f.dev / "reliability.png"))
    return Stage(name, commands, creates, after=lambda _run: shutil.rmtree(model_dir, ignore_errors=True))


def waiting(name: str, why: str) -> Stage:
    """A stage whose settings are not known yet (listed, but it stops the run if reached)."""
    def stop(_run):
        raise SystemExit(f"replicate: {name} waits for {why}")
    return Stage(name, python=stop)


# ---------------------------------------------------------------- final runs

# The models of the tables: name -> (family whose tuned settings it uses, what differs, the pairs it trains on)
FINALS = {
    "gram": ("gram", [], 2000),
    "gram-eps0": ("gram", ["--label-smoothing", "0"], 2000),
    "stage2-only": ("stage2-only", [], 2000),
    "bt": ("bt", [], 2000),
    **{f"{family}-{n}": (family, [], n) for family in FAMILIES for n in SIZES["train_sizes"][:-1]},
}
BLIND = ["gram", "gram-eps0", "stage2-only", "bt", "zero-shot",
         *(f"gram-{n}" for n in SIZES["train_sizes"][:-1])]


def final_stage(run: Path, name: str) -> Stage:
    family, change, pairs = FINALS[name]
    return trained_stage(run, name, family, FAMILY[family].train, pairs, FAMILY[family].limit, change)


def trained_stage(run: Path, name: str, family: str, train: str, pairs: int, limit: str, change=()) -> Stage:
    """models/<name>: the family's tuned settings on the first `pairs` of data/<train>.jsonl."""
    best = choose(run, family)
    if best is None:
        return waiting(name, f"the {family} sweep")
    f, out = FAMILY[family], run / "models" / name
    command = ["gram", f.verb, "--train-file", str(run / "data" / f"{train}.jsonl"), "--limit", str(pairs),
               "--output-dir", str(out), "--max-length", str(LIMITS[limit]), *BATCH, "--learning-rate", best["lr"],
               "--epochs", str(best["epochs"]), "--lr-scheduler", "cosine", "--warmup-ratio", "0.1", "--seed", "42",
               "--logging-steps", "5", "--save-steps", "10", "--save-total-limit", "1", *FREEZE]
    if f.generative:
        command += ["--label-smoothing", best["eps"], "--no-both-orders"]
    command += ["--model", base_model(run, family), *change]
    return Stage(name, [command], [str(out / "train_summary.json")])


# task -> (pool file, test file, the n adapted with, max-length key)
ADAPT_TASKS = {"hh": ("hh_pool", "hh-test", SIZES["adapt_n"], "hh_tokens"),
               "summ": ("summ_pool", "summ-test", SIZES["summ_adapt_n"], "summ_tokens")}


def adapted(kind: str, task: str, n: int) -> str:
    return kind if n == 0 else f"adapt-{kind}-{task}-{n}"


def adaptation_stages(run: Path, task: str) -> list[Stage]:
    """Claim 4: GRAM and BT adapted with n task pairs (the first n of the pool), each scored on the task's
    test side together with n = 0 (the stage-2 models themselves)."""
    pool, test, sizes, limit = ADAPT_TASKS[task]
    out = [trained_stage(run, adapted(kind, task, n), f"adapt-{kind}", pool, n, limit)
           for n in sizes for kind in ("gram", "bt")]
    return out + [eval_stage(run, adapted(kind, task, n), [test]) for kind in ("gram", "bt") for n in (0, *sizes)]


def model_path(run: Path, name: str) -> str:
    return "smollm2-135m" if name == "zero-shot" else str(run / "models" / name)


def eval_stage(run: Path, name: str, sets: list[str] | None = None) -> Stage:
    """Evaluation sets (default: in distribution and every out-of-distribution set) read by one model, with
    the prompt gram trains on (the zero-shot model too, to compare like with like)."""
    commands, creates = [], []
    label = "smollm2-135m" if name == "zero-shot" else name
    sets = sets or ["id-test", *OOD_SETS]
    for s in sets:
        out = run / "eval"
        commands.append(["gram", "eval", "--model", model_path(run, name), "--benchmark", str(run / "data" / f"{s}.jsonl"),
                         "--output", str(out), "--max-length", str(LIMITS["judgebench_tokens"]), "--template", "gram",
                         "--quiet"])
        creates.append(str(out / label / s / "reliability.png"))
    return Stage(f"eval-{name}" + ("" if sets == ["id-test", *OOD_SETS] else f"-{'-'.join(sets)}"), commands, creates)


BLIND_PAIRS = Path(__file__).resolve().parent.parent.parent / "shared" / "blind" / "pairs.jsonl"
BLIND_ARCHIVE = Path(__file__).resolve().parent / "results" / "replicate" / "blind"
BLIND_KEYS = ("id", "score_a", "score_b", "p_a_ab", "p_a_ba", "truncated")


def blind_stage(run: Path, name: str, pairs: Path = BLIND_PAIRS, archive: Path = BLIND_ARCHIVE) -> Stage:
    """`gram score` on the blind pairs (both orders, --max-length 1024); the scores, with each row's id and
    nothing of the text, are kept in `archive`/<model>/scores.jsonl. Nothing is tuned or selected on them."""
    out = run / "blind" / name / "scores.jsonl"
    command = ["gram", "score", "--model", model_path(run, name), "--input", str(pairs), "--output", str(out),
               "--max-length", str(LIMITS["blind_tokens"]), "--template", "gram", "--quiet"]
    return Stage(f"blind-{name}", [command], [str(out)], after=lambda _run: keep_blind_scores(out, archive / name))


def keep_blind_scores(scores: Path, folder: Path) -> None:
    from gram.io import write_jsonl_atomic

    rows = [json.loads(line) for line in scores.read_text(encoding="utf-8").splitlines()]
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(folder / "scores.jsonl", ({k: r[k] for k in BLIND_KEYS if k in r} for r in rows))


def pretrain_stage(run: Path) -> Stage:
    out = run / "models" / "stage1"
    return Stage("stage1", [["gram", "pretrain", "--train-file", str(run / "data" / "stage1.jsonl"), "--output-dir",
                             str(out), "--max-length", str(LIMITS["stage1_tokens"]), *BATCH, "--learning-rate", "5e-5",
                             "--epochs", "1", "--lr-scheduler", "cosine", "--warmup-ratio", "0.1", "--seed", "42",
                             "--logging-steps", "5", "--save-steps", "20", "--save-total-limit", "1", *FREEZE]],
                 [str(out / "train_summary.json")])


def stages(run: Path) -> list[Stage]:
    """In the order they run. What needs no model comes first; the stage-1 chain (stage 1 -> the GRAM sweep
    -> the GRAM models) next, so that a fresh machine retrains it once for everything that reads it."""
    out = [Stage("data", python=build_data)]
    out += [sweep_stage(run, "stage2-only", i) for i in range(len(SWEEP_LRS) + 1)]
    out += [grouping_check_stage(run), freeze_check_stage(run)]
    out += [sweep_stage(run, "bt", i) for i in range(len(SWEEP_LRS) + 1)]
    out.append(pretrain_stage(run))
    out += [sweep_stage(run, "gram", i) for i in range(len(SWEEP_LRS) + 1)]
    for name in ("gram", "gram-eps0", "stage2-only", "bt"):
        out += [final_stage(run, name), eval_stage(run, name), *([blind_stage(run, name)] if name in BLIND else [])]
    out += [eval_stage(run, "zero-shot"), blind_stage(run, "zero-shot"), orders_check_stage(run)]
    for n in SIZES["train_sizes"][:-1]:
        for family in FAMILIES:
            name = f"{family}-{n}"
            out += [final_stage(run, name), eval_stage(run, name), *([blind_stage(run, name)] if name in BLIND else [])]
    for kind in ("gram", "bt"):
        out += [sweep_stage(run, f"adapt-{kind}", i) for i in range(len(SWEEP_LRS) + 1)]
    for task in ADAPT_TASKS:
        out += adaptation_stages(run, task)
    return out
