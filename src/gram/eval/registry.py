"""The named benchmarks `gram eval` knows, where their files are, and how a benchmark (a name or a file
of labeled pairs) becomes pairs with an identity that a resumed run can check.

    name, pairs, identity = load_benchmark("judgebench")          # under $GRAM_DATA
    name, pairs, identity = load_benchmark("my_pairs.jsonl")      # any gram pair file
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..formats import read
from ..records import PreferencePair, ResponseSet


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

# Benchmarks read from the Hugging Face hub by their dataset id, where the hub is reachable (name -> (id,
# split, format)); `--benchmark org/name[:split] --format F` reads any other hub dataset the same way.
HUB_BENCHMARKS = {
    "rewardbench": ("allenai/reward-bench", "filtered", "rewardbench"),
    "rewardbench2": ("allenai/reward-bench-2", "test", "rewardbench2"),
    "rm-bench": ("THU-KEG/RM-Bench", "train", "rm-bench"),
}


PROJECT_DATA = "../shared/data"  # where the data sits beside a checkout of this project


def data_dir(default: str | Path | None = None) -> Path:
    """Where named benchmarks are read: $GRAM_DATA, else `default` (the caller's convention; `gram eval`
    and `gram env`: PROJECT_DATA)."""
    root = os.environ.get("GRAM_DATA") or default
    if root is None:
        raise InputError("$GRAM_DATA", None, None, "not set: point it at the folder that holds the benchmark data")
    return Path(root)


def load_benchmark(spec: str, fmt: str | None = None, root: str | Path | None = None
                   ) -> tuple[str, list[PreferencePair], dict]:
    """(name, labeled pairs, identity) for a benchmark name (read under `root`, default $GRAM_DATA) or a
    file of pairs; for RewardBench 2 (--format rewardbench2) the records are its response sets."""
    hub_name = None
    if spec in HUB_BENCHMARKS and fmt is None:
        hub_name, (hub_id, split, fmt) = spec, HUB_BENCHMARKS[spec]
        spec = f"{hub_id}:{split}"
    if spec in BENCHMARKS and fmt is None:
        b = BENCHMARKS[spec]
        base = Path(root) if root is not None else data_dir()
        path = base / b.path
        name, fmt = b.name, b.format
        if not path.exists():
            where = "$GRAM_DATA" if os.environ.get("GRAM_DATA") else "the default data folder"
            raise InputError(path, None, None, f"no such file: the named benchmark {spec!r} is read under {where} "
                             f"({base.resolve()}); set GRAM_DATA to the folder that holds {b.path}, or pass a file")
    else:
        path, name, fmt = Path(spec), hub_name or Path(spec).name.split(".")[0], fmt or "gram"
        if not path.exists() and "/" not in spec and "." not in spec:
            raise InputError(path, None, None, "no such file, and not a named benchmark (known: "
                             f"{', '.join([*BENCHMARKS, *HUB_BENCHMARKS])})")
    records = read(fmt, path).records
    pairs = [r for r in records if isinstance(r, PreferencePair)]
    sets = [r for r in records if isinstance(r, ResponseSet) and r.source == "rewardbench2"]
    if sets and len(sets) == len(records):  # a set benchmark with official rules: ranked (gram.eval.sets)
        pairs = sets
    elif len(pairs) != len(records):
        raise InputError(path, None, None, "holds response sets; evaluation needs labeled pairs (or RewardBench 2 "
                                           "sets, --format rewardbench2)")
    identity = {"benchmark": name, "format": fmt, "path": str(path), "records": len(pairs),
                "sha1": fingerprint(pairs)}
    return name, pairs, identity


def fingerprint(pairs: list) -> str:
    h = hashlib.sha1()
    for p in pairs:
        fields = [p.prompt, p.responses, p.meta] if isinstance(p, ResponseSet) else [p.prompt, p.response_a,
                                                                                       p.response_b, p.label]
        h.update(json.dumps(fields, ensure_ascii=False, default=str).encode("utf-8"))
    return h.hexdigest()[:16]
