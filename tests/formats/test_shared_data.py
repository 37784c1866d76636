"""The readers on the real files in ../shared/data (skipped where that folder is absent): known counts,
errors on corrupted copies, and convert -> score on every evaluation set."""

import gzip
import json
from collections import Counter

import pytest
from helpers import SHARED_DATA as DATA

from gram.cli import main
from gram.formats import read
from gram.io import InputError

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} is absent")

COUNTS = [  # format, path under shared/data, records, items read
    ("rmb-pairwise", "rmb/RMB_dataset/Pairwise_set", 14543, 14543),
    ("rmb-bon", "rmb/RMB_dataset/BoN_set", 3786, 3786),
    ("hh-rlhf", "hh-rlhf/harmless-base/test.jsonl.gz", 2312, 2312),
    ("pandalm", "pandalm/data/testset-v1.json", 999, 999),
    ("llmbar", "llmbar/Dataset/LLMBar/Natural", 100, 100),
    ("llmbar", "llmbar/Dataset/LLMBar/Adversarial", 319, 319),
    ("llmbar", "llmbar/Dataset/Processed/MT-Bench", 200, 200),
    ("llmbar", "llmbar/Dataset/Processed/FairEval", 66, 66),
    ("llmbar", "llmbar/Dataset/Processed/LLMEval^2", 200, 200),
    ("hhh-prometheus", "prometheus-eval-benchmarks/eval/benchmark/data/hhh_alignment_eval.json", 221, 221),
    ("prometheus-scored", "prometheus-eval-benchmarks/eval/benchmark/data/vicuna_eval.json", 80, 320),
    ("prometheus-scored", "prometheus-eval-benchmarks/eval/benchmark/data/mt_bench_eval.json", 318, 320),
    ("judgebench", "gram-repo-data/evaluation/scalerlab_judgebench/gpt.json", 350, 350),
    ("judgebench", "gram-repo-data/evaluation/scalerlab_judgebench/claude.json", 270, 270),
    ("sharegpt-dpo", "gram-repo-data/data/dpo_en_demo.json", 300, 300),
    ("alpaca-eval", "alpaca-eval/results", 805, 14489),
    ("arena-hard", "arena-hard-auto/data/arena-hard-v0.1", 500, 1500),
    ("arena-hard", "arena-hard-auto/data/arena-hard-v2.0", 750, 750),
    ("alpaca-farm", "alpaca-farm/examples/data", 813, 1575),
]


@pytest.mark.parametrize("fmt, rel, records, items", COUNTS, ids=[f"{c[0]}:{c[1].split('/')[-1]}" for c in COUNTS])
def test_known_counts(fmt, rel, records, items):
    result = read(fmt, DATA / rel)
    assert (len(result.records), result.items) == (records, items)


def test_known_breakdowns():
    hhh = read("hhh-prometheus", DATA / "prometheus-eval-benchmarks/eval/benchmark/data/hhh_alignment_eval.json")
    assert Counter(r.category for r in hhh.records) == {"harmless": 58, "helpful": 59, "honest": 61, "other": 43}
    rmb = read("rmb-pairwise", DATA / "rmb/RMB_dataset/Pairwise_set").records
    assert sum(r.category.startswith("Helpfulness/Summarization") for r in rmb) == 530
    assert sum(r.category.startswith("Helpfulness/Code") for r in rmb) == 1224
    assert 0.45 < sum(r.label == "a" for r in rmb) / len(rmb) < 0.55  # hash placement is balanced
    panda = read("pandalm", DATA / "pandalm/data/testset-v1.json").records
    assert sum(r.label == "tie" for r in panda) == 105
    sets = read("alpaca-eval", DATA / "alpaca-eval/results").records
    assert Counter(len(s.responses) for s in sets) == {18: 804, 17: 1}
    annotations = read("alpaca-eval-annotations", DATA / "alpaca-eval/results", skip_bad=True)
    assert (len(annotations.records), len(annotations.rejects)) == (3217, 3)  # 3 rows have no preference


def test_corrupted_json_array_names_file_record_field(tmp_path):
    rows = json.loads((DATA / "rmb/RMB_dataset/Pairwise_set/Harmlessness/S1.json").read_text())
    del rows[5]["reject"]
    rows[9]["chosen"]["answer"] = None
    bad = tmp_path / "S1.json"
    bad.write_text(json.dumps(rows))
    with pytest.raises(InputError) as err:
        read("rmb-pairwise", bad)
    assert str(err.value) == f"{bad}: record 5: reject: missing"
    result = read("rmb-pairwise", bad, skip_bad=True)
    assert len(result.records) == len(rows) - 2
    assert [(r["where"], r["field"]) for r in result.rejects] == [
        (f"{bad}: record 5", "reject"), (f"{bad}: record 9", "chosen.answer")]


def test_corrupted_jsonl_names_file_line_field(tmp_path, capsys):
    with gzip.open(DATA / "hh-rlhf/harmless-base/test.jsonl.gz", "rt") as f:
        lines = f.read().splitlines()
    lines[9] = lines[9][:-5]  # line 10: truncated JSON
    row = json.loads(lines[19])
    row["rejected"] = 42  # line 20: wrong type
    lines[19] = json.dumps(row)
    bad = tmp_path / "test.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["data", "convert", "--format", "hh-rlhf", "--input", str(bad), "--output", str(out)]) == 2
    assert f"{bad}:10: not valid JSON" in capsys.readouterr().err
    lines[9] = lines[10]
    bad.write_text("\n".join(lines) + "\n")
    assert main(["data", "convert", "--format", "hh-rlhf", "--input", str(bad), "--output", str(out)]) == 2
    assert f"{bad}:20: rejected: expected a string, got int" in capsys.readouterr().err
    assert main(["data", "convert", "--format", "hh-rlhf", "--input", str(bad), "--output", str(out), "--skip-bad"]) == 0
    assert len(out.read_text().splitlines()) == 2311


EVAL_SETS = [
    ("judgebench", "gram-repo-data/evaluation/scalerlab_judgebench/gpt.json"),
    ("llmbar", "llmbar/Dataset/LLMBar/Natural"),
    ("llmbar", "llmbar/Dataset/LLMBar/Adversarial"),
    ("hhh-prometheus", "prometheus-eval-benchmarks/eval/benchmark/data/hhh_alignment_eval.json"),
    ("pandalm", "pandalm/data/testset-v1.json"),
    ("llmbar", "llmbar/Dataset/Processed/MT-Bench"),
    ("rmb-pairwise", "rmb/RMB_dataset/Pairwise_set/Harmlessness"),
    ("hh-rlhf", "hh-rlhf/harmless-base/test.jsonl.gz"),
]


@pytest.mark.parametrize("fmt, rel", EVAL_SETS, ids=[f"{f}:{r.split('/')[-1]}" for f, r in EVAL_SETS])
def test_convert_then_score(tmp_path, tiny_model_dir, fmt, rel):
    converted = tmp_path / "pairs.jsonl"
    assert main(["data", "convert", "--format", fmt, "--input", str(DATA / rel), "--output", str(converted)]) == 0
    head = tmp_path / "head.jsonl"
    head.write_text("".join(converted.read_text().splitlines(keepends=True)[:3]))  # a slice: the tiny model is slow on long texts
    scored = tmp_path / "scored.jsonl"
    assert main(["score", "--model", str(tiny_model_dir), "--input", str(head), "--output", str(scored),
                 "--max-length", "1024", "--quiet"]) == 0
    rows = [json.loads(line) for line in scored.read_text().splitlines()]
    assert len(rows) == 3 and all(abs(r["score_a"] + r["score_b"] - 1) < 1e-6 and r["label"] for r in rows)
