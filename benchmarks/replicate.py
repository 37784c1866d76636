"""A small-scale replication of the GRAM paper's claims on the embedded backbone (SmolLM2-135M, CPU).

    python benchmarks/replicate.py                  # run every stage not yet done, in order (resumable)
    python benchmarks/replicate.py --list           # the stages, done or not, with their wall times
    python benchmarks/replicate.py --only gram      # one stage (or several: --only bt --only eval-bt)
    python benchmarks/replicate.py --report         # docs/RESULTS.md and its plots from what has run
    python benchmarks/replicate.py --archive        # (again) keep finished stages' results for a later session
    python benchmarks/replicate.py --scale scaled   # issue 18's scaled, tuned run (replicate_scaled.py); same flags

Claims tested (Wang et al., ICML 2025): (1) pre-training on unlabeled response pairs (stage 1) helps a
generative reward model generalise out of distribution, against the same model trained on labels alone;
(2) label smoothing (eps 0.1) helps against eps = 0 (plain Bradley-Terry over the two label tokens);
(3) GRAM generalises better than a discriminative Bradley-Terry reward model trained on the same pairs;
(4) GRAM adapts to a new task (HH-RLHF harmlessness; RMB's Summarization group, which stage 2 leaves out)
with few labels better than that BT model.

Every stage is a separate process (`gram pretrain|finetune|adapt|train-bt|eval`, or the data build here),
logged to RUN/logs/<stage>.log. A stage is done when RUN/done/<stage>.json exists (written atomically after
it succeeds, with its wall time); an interrupted training stage resumes from its last checkpoint, an
interrupted evaluation from its last finished benchmark. No stage needs more than about an hour here.
Finished stages' results (never models or data) are kept in benchmarks/results/replicate/, to commit, so
that a run can go on in a later session on a fresh machine (see replicate_archive.py).

Data (seed 0 everywhere; nothing from an evaluation set or the adaptation test set is trained on: their
prompts are removed from every training source before sampling):
- stage 1: unlabeled pairs from AlpacaEval outputs (18 models), Arena-Hard v0.1 answers and AlpacaFarm
  outputs, at most 8 pairs per prompt, stage-1 sequence <= 384 tokens;
- stage 2: RMB pairwise without its Summarization group, judge prompt <= 384 tokens, split by prompt into
  a held-out test side (in-distribution check) and the training pairs;
- out-of-distribution evaluation: JudgeBench (GPT-4o responses; every pair is 1.4k-2.2k tokens, so the
  judges read it cut to 1,024 with the middles of the responses dropped), LLMBar Natural and Adversarial,
  HHH alignment, PandaLM (ties apart), MT-Bench human judgements: pairs whose judge prompt is <= 768 tokens,
  then a seeded sample;
- adaptation: HH-RLHF harmless-base test, judge prompt <= 512 tokens, split by prompt into a test side and
  a pool; n task pairs = the first n of the shuffled pool (nested sets). The same for RMB's Summarization
  group at judge prompt <= 1,024 tokens (only 159 of its 530 pairs, on 44 prompts, are that short).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from replicate_archive import ARCHIVE, SCALED_ARCHIVE, archive_stage, restore, stages_to_run
from replicate_plan import TASKS, Stage, Task, adapted_name, stage1_pairs  # noqa: F401  (Task: re-exported for the tests)
from replicate_scaled import stages as scaled_stages

ROOT = Path(__file__).resolve().parent.parent
SEED = 0

SIZES = {
    "stage1_pairs": 800, "stage2_pairs": 320, "rmb_test": 60, "eval_per_set": 50, "judgebench": 40,
    "hh_test": 120, "hh_pool": 200, "adapt_n": (50, 200), "summ_test": 60, "summ_adapt_n": (40, 80),
}
LIMITS = {"stage1_tokens": 384, "stage2_tokens": 384, "eval_tokens": 768, "judgebench_tokens": 1024,
          "hh_tokens": 512, "summ_tokens": 1024}
OOD_SETS = ["judgebench", "llmbar-natural", "llmbar-adversarial", "hhh", "pandalm", "mt-bench"]

# Shared by every stage-2 style run so that the models differ only where the claim says they do.
TRAIN = ["--batch-size", "4", "--grad-accum", "4", "--learning-rate", "5e-5", "--epochs", "1",
         "--lr-scheduler", "cosine", "--warmup-ratio", "0.1", "--seed", "42", "--logging-steps", "2",
         "--save-steps", "10", "--save-total-limit", "1"]
ADAPT = ["--batch-size", "4", "--grad-accum", "4", "--learning-rate", "2e-5", "--epochs", "1",
         "--lr-scheduler", "cosine", "--warmup-ratio", "0.1", "--seed", "42", "--logging-steps", "2",
         "--save-steps", "10", "--save-total-limit", "1"]


# model name -> (how it was made, for the tables)
MODELS = {
    "zero-shot": "SmolLM2-135M-Instruct, no training",
    "bt": "Bradley-Terry reward model (sequence-classification head), stage-2 pairs",
    "stage2-only": "generative, stage 2 only (no stage 1), eps 0.1",
    "gram-eps0": "GRAM: stage 1 + stage 2, eps 0 (no label smoothing)",
    "gram": "GRAM: stage 1 + stage 2, eps 0.1",
}


def model_path(run: Path, name: str) -> str:
    return "smollm2-135m" if name == "zero-shot" else str(run / "models" / name)


def eval_stage(run: Path, model: str, sets: list[str], tag: str = "eval") -> Stage:
    commands, creates = [], []
    for s in sets:
        out = run / tag
        commands.append(["gram", "eval", "--model", model_path(run, model), "--benchmark", str(run / "data" / f"{s}.jsonl"),
                         "--output", str(out), "--max-length", str(LIMITS["judgebench_tokens"]), "--quiet"])
        label = "smollm2-135m" if model == "zero-shot" else model
        creates.append(str(out / label / s / "reliability.png"))  # the last file gram eval writes
    return Stage(f"{tag}-{model}", commands, creates)


def stages(run: Path) -> list[Stage]:
    data, models = run / "data", run / "models"
    finetune = ["gram", "finetune", "--train-file", str(data / "stage2_train.jsonl"),
                "--max-length", str(LIMITS["stage2_tokens"]), *TRAIN]
    out = [
        Stage("data", python=build_data),
        Stage("stage1", [["gram", "pretrain", "--train-file", str(data / "stage1.jsonl"), "--output-dir",
                          str(models / "stage1"), "--max-length", str(LIMITS["stage1_tokens"]), *TRAIN]], [None]),
        Stage("gram", [[*finetune, "--model", str(models / "stage1"), "--output-dir", str(models / "gram"),
                        "--label-smoothing", "0.1"]], [None]),
        Stage("bt", [["gram", "train-bt", "--train-file", str(data / "stage2_train.jsonl"), "--output-dir",
                      str(models / "bt"), "--max-length", str(LIMITS["stage2_tokens"]), *TRAIN]], [None]),
    ]
    # Ordered so that what needs stage 1 (the longest stage) comes first and what needs only the backbone
    # (stage 2 only, zero-shot) last: a session cut short loses the stages cheapest to run again.
    ood = ["rmb-test", *OOD_SETS]
    out += [eval_stage(run, m, ood) for m in ("gram", "bt")]
    out += [
        Stage("gram-eps0", [[*finetune, "--model", str(models / "stage1"), "--output-dir", str(models / "gram-eps0"),
                             "--label-smoothing", "0"]], [None]),
        eval_stage(run, "gram-eps0", ood),
    ]
    out += adaptation_stages(run, "hh")
    out += [
        Stage("stage2-only", [[*finetune, "--model", "smollm2-135m", "--output-dir", str(models / "stage2-only"),
                               "--label-smoothing", "0.1"]], [None]),
        eval_stage(run, "stage2-only", ood),
        eval_stage(run, "zero-shot", ood),
    ]
    out += adaptation_stages(run, "summ")  # added after the rest had run; needs stage 1 and GRAM again
    return out


def adaptation_stages(run: Path, task: str) -> list[Stage]:
    """GRAM and BT adapted with n task pairs (nested: the first n of the pool), then each evaluated on the
    task's test side together with n = 0 (the stage-2 models themselves)."""
    data, models = run / "data", run / "models"
    t = TASKS[task]
    common = ["--train-file", str(data / f"{t.pool}.jsonl"), *ADAPT, "--max-length", str(LIMITS[t.limit])]
    out = []
    for n in SIZES[t.sizes]:
        gram, bt = adapted_name("gram", task, n), adapted_name("bt", task, n)
        out.append(Stage(gram, [["gram", "adapt", "--model", str(models / "gram"), "--limit", str(n), "--output-dir",
                                 str(models / gram), "--label-smoothing", "0.1", *common]], [None]))
        out.append(Stage(bt, [["gram", "train-bt", "--model", str(models / "bt"), "--limit", str(n), "--output-dir",
                               str(models / bt), *common]], [None]))
    for m in ("gram", "bt"):
        out += [eval_stage(run, adapted_name(m, task, n), [t.test], tag=t.tag) for n in (0, *SIZES[t.sizes])]
    return out


# ---------------------------------------------------------------- data

def build_data(run: Path) -> None:
    from transformers import AutoTokenizer

    from gram.backbone import resolve
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

    def judge_len(p: PreferencePair) -> int:
        return len(encode_judge(tokenizer, p.prompt, p.response_a, p.response_b, template="gram").input_ids)  # the prompt trained on

    def short(pairs, limit):  # a cheap character bound first: tokenizing 14k long RMB pairs takes minutes
        return [p for p in pairs if len(json.dumps([p.prompt, p.response_a, p.response_b])) < 8 * limit
                and judge_len(p) <= limit]

    def save(name: str, pairs: list[PreferencePair], note: str) -> None:
        write_jsonl_atomic(out / f"{name}.jsonl", (p.to_row() for p in pairs))
        manifest["files"][name] = {"pairs": len(pairs), "note": note}
        print(f"  {name}: {len(pairs)} pairs ({note})", flush=True)

    # Evaluation sets first: every training source is cleaned of their prompts.
    held_out: set[str] = set()
    for name in OOD_SETS:
        b = BENCHMARKS[name]
        pairs = [p for p in read(b.format, shared / b.path).records if p.label != "tie"]
        held_out.update(prompt_key(p.prompt) for p in pairs)
        if name == "judgebench":
            chosen = random.Random(SEED).sample(pairs, min(SIZES["judgebench"], len(pairs)))
            note = f"seeded sample of {len(pairs)}, read cut to {LIMITS['judgebench_tokens']} tokens"
        else:
            fit = short(pairs, LIMITS["eval_tokens"])
            chosen = random.Random(SEED).sample(fit, min(SIZES["eval_per_set"], len(fit)))
            note = f"seeded sample of the {len(fit)} of {len(pairs)} pairs <= {LIMITS['eval_tokens']} tokens"
        save(name, chosen, note)

    hh = short(read("hh-rlhf", shared / "hh-rlhf/harmless-base/test.jsonl.gz").records, LIMITS["hh_tokens"])
    pool, test = split_by_prompt(hh, SIZES["hh_test"], seed=SEED)
    test_keys = {prompt_key(p.prompt) for p in test}
    pool = [p for p in pool if prompt_key(p.prompt) not in held_out]
    random.Random(SEED).shuffle(pool)
    save("hh-test", test, f"HH-RLHF harmless-base test, <= {LIMITS['hh_tokens']} tokens, split by prompt")
    save("hh_pool", pool[:SIZES["hh_pool"]], "adaptation pool (other prompts), shuffled; --limit n takes the first n")
    held_out |= test_keys

    summ = [p for p in read("rmb-pairwise", shared / "rmb/RMB_dataset/Pairwise_set").records
            if "Summarization" in p.category and prompt_key(p.prompt) not in held_out]
    summ = short(summ, LIMITS["summ_tokens"])
    pool, test = split_by_prompt(summ, SIZES["summ_test"], seed=SEED)
    random.Random(SEED).shuffle(pool)
    save("summ-test", test, f"RMB Summarization, <= {LIMITS['summ_tokens']} tokens, split by prompt")
    save("summ_pool", pool, "adaptation pool (other prompts), shuffled; --limit n takes the first n")
    held_out |= {prompt_key(p.prompt) for p in summ}

    rmb = [p for p in read("rmb-pairwise", shared / "rmb/RMB_dataset/Pairwise_set").records
           if "Summarization" not in p.category and prompt_key(p.prompt) not in held_out]
    rmb = short(rmb, LIMITS["stage2_tokens"])
    train, test = split_by_prompt(rmb, SIZES["rmb_test"], seed=SEED)
    random.Random(SEED).shuffle(train)
    save("rmb-test", test, "RMB held-out prompts (in distribution)")
    save("stage2_train", train[:SIZES["stage2_pairs"]], f"RMB pairwise without Summarization, of {len(train)} short pairs")

    stage1, drawn = stage1_pairs(shared, held_out, tokenizer, LIMITS["stage1_tokens"], SIZES["stage1_pairs"],
                                 per_prompt=8, seed=SEED)
    save("stage1", stage1, f"unlabeled pairs (AlpacaEval, Arena-Hard v0.1, AlpacaFarm), of {drawn}")
    write_json_atomic(out / "manifest.json", manifest)


# ---------------------------------------------------------------- running

def done_path(run: Path, name: str) -> Path:
    return run / "done" / f"{name}.json"


def attempts_path(run: Path, name: str) -> Path:
    return run / "logs" / f"{name}.attempts.json"


def start_attempt(run: Path, name: str) -> None:
    """Record when this attempt started; close an earlier killed attempt at its log's last write."""
    from gram.io import write_json_atomic

    path, log = attempts_path(run, name), run / "logs" / f"{name}.log"
    attempts = json.loads(path.read_text()) if path.exists() else []
    if attempts and attempts[-1][1] is None:
        attempts[-1][1] = log.stat().st_mtime if log.exists() else attempts[-1][0]
    write_json_atomic(path, attempts + [[time.time(), None]])


def finish_attempt(run: Path, name: str) -> float:
    """Close this attempt; the stage's wall time is the sum over its attempts (time between sessions not counted)."""
    from gram.io import write_json_atomic

    path = attempts_path(run, name)
    attempts = json.loads(path.read_text())
    attempts[-1][1] = time.time()
    write_json_atomic(path, attempts)
    return sum(end - start for start, end in attempts)


def run_stage(run: Path, stage: Stage, archive: Path = ARCHIVE) -> None:
    from gram.io import write_json_atomic

    log = run / "logs" / f"{stage.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    start_attempt(run, stage.name)
    print(f"[replicate] {stage.name}: started {time.strftime('%H:%M:%S')}, log {log}", flush=True)
    if stage.python:
        stage.python(run)
    for command, creates in zip(stage.commands, stage.creates):
        if creates and Path(creates).exists():
            continue
        command = [sys.executable, "-m", "gram.cli", *command[1:]]  # this interpreter's gram, whatever PATH says
        with open(log, "a") as f:
            f.write(f"\n$ gram {' '.join(command[3:])}\n")
            f.flush()
            rc = subprocess.call(command, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
        if rc != 0:
            raise SystemExit(f"[replicate] {stage.name} failed (exit {rc}): see {log}")
    seconds = finish_attempt(run, stage.name)
    write_json_atomic(done_path(run, stage.name), {"stage": stage.name, "seconds": round(seconds, 1),
                                                   "finished": time.strftime("%Y-%m-%d %H:%M:%S")})
    if stage.name != "data":
        archive_stage(run, stage, archive)
    if stage.after:
        stage.after(run)
    print(f"[replicate] {stage.name}: done in {seconds / 60:.1f} min", flush=True)


# scale -> (its stages, its archive, its run directory under runs/, the module writing its report)
SCALES = {"small": (stages, ARCHIVE, "replicate", "replicate_report"),
          "scaled": (scaled_stages, SCALED_ARCHIVE, "replicate-scaled", "replicate_scaled_report")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=SCALES, default="small",
                        help="small: the first run (archived); scaled: issue 18's run (replicate_scaled.py)")
    parser.add_argument("--run-dir", help="default: runs/replicate (small), runs/replicate-scaled (scaled)")
    parser.add_argument("--only", action="append", help="run just this stage (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the stages and stop")
    parser.add_argument("--report", action="store_true", help="write docs/RESULTS.md from the finished stages")
    parser.add_argument("--archive", action="store_true", help=f"copy every finished stage's results to {ARCHIVE}")
    args = parser.parse_args(argv)
    plan, archive, default_run, report = SCALES[args.scale]
    run = Path(args.run_dir or ROOT / "runs" / default_run)
    all_stages = plan(run)
    if args.list:
        for s in all_stages:
            d = done_path(run, s.name)
            state = f"done, {json.loads(d.read_text())['seconds'] / 60:.1f} min" if d.exists() else "to do"
            print(f"{s.name:24s} {state}")
        return 0
    if args.archive:
        for s in all_stages[1:]:
            if done_path(run, s.name).exists():
                archive_stage(run, s, archive)
        return 0
    if args.report:
        import importlib

        restore(run, archive)
        importlib.import_module(report).write_report(run, plan(run), ROOT / "docs")
        return 0
    os.environ.setdefault("GRAM_DATA", str(ROOT.parent / "shared" / "data"))
    if not Path(os.environ["GRAM_DATA"]).exists():
        print("replicate: ../shared/data not found (set GRAM_DATA); nothing to do", file=sys.stderr)
        return 0
    wanted = set(args.only or [])
    unknown = wanted - {s.name for s in all_stages}
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    if not done_path(run, "data").exists():
        run_stage(run, all_stages[0], archive)
    restored = restore(run, archive)
    if restored:
        print(f"[replicate] restored from {archive}: {', '.join(restored)}", flush=True)
    ran: set[str] = set()
    while True:  # the plan is read again after each stage: later stages use the settings tuned by earlier ones
        todo = [s for s in stages_to_run(run, plan(run), lambda s: done_path(run, s.name).exists())
                if s.name not in ran and (not wanted or s.name in wanted)]
        if not todo:
            return 0
        run_stage(run, todo[0], archive)
        ran.add(todo[0].name)


if __name__ == "__main__":
    sys.exit(main())
