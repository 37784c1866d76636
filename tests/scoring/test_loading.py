"""gram.scoring.loading: a model is read with the template it was trained with; reward-reasoning (GRAM-R^2)
checkpoints are read with their protocol, known by name, and the released GRAM checkpoints are not taken
for them."""

from __future__ import annotations

import json

import pytest
from helpers import PAIR

from gram.cli import main


@pytest.mark.parametrize("name", ["wangclnlp/GRAM-RR-LLaMA-3.1-8B-RewardModel", "runs/gram-rr-llama-3.2-3b"])
def test_a_reward_reasoning_checkpoint_is_read_with_its_protocol(name):
    from gram.scoring.loading import reasoning_protocol

    assert reasoning_protocol(name) == "gram-rr"


def test_gram_score_reads_a_gram_rr_checkpoint_as_a_reasoning_judge(tmp_path, tiny_model_dir, capsys):
    """A GRAM-RR checkpoint (known by its name) gets gram-rr without --protocol: rows carry the reasoning
    fields and rationales, the summary counts what the budget cut; --resume's identity holds the reasoning
    settings."""
    import shutil

    model = tmp_path / "GRAM-RR-tiny"
    shutil.copytree(tiny_model_dir, model)
    src, out = tmp_path / "in.jsonl", tmp_path / "o.jsonl"
    src.write_text(json.dumps(PAIR) + "\n")
    args = ["score", "--model", str(model), "--input", str(src), "--output", str(out), "--max-think-tokens", "4",
            "--samples", "2", "--quiet"]
    assert main(args) == 0
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["think_truncated"] == 4 and len(row["rationales"]) == 2 and len(row["rationales"][0]) == 2
    assert row["score_a"] + row["score_b"] == pytest.approx(1.0) and row["votes_a"] + row["votes_b"] == 4
    assert "rationales cut by the budget 4" in capsys.readouterr().err
    assert main([*args, "--no-rationales", "--output", str(tmp_path / "o2.jsonl")]) == 0
    assert json.loads((tmp_path / "o2.jsonl").read_text())["rationales"] is None


def test_reasoning_settings_are_part_of_the_resume_identity():
    """Every field of ReasoningOptions, read off the dataclass: none can be forgotten by a hand-kept list."""
    from argparse import Namespace
    from dataclasses import fields

    from gram.jobs.settings import reasoning_settings
    from gram.scoring.protocols import ReasoningOptions

    args = Namespace(**{f.name: f.default for f in fields(ReasoningOptions)})
    assert set(reasoning_settings(args)) == {f.name for f in fields(ReasoningOptions)} >= {
        "protocol", "samples", "think_temperature", "think_top_p", "max_think_tokens", "think_seed", "rationales"}


def test_the_reasoning_flags_reach_the_judge_under_its_own_names():
    """`--think-seed` is ReasoningJudge's `seed` (the flags say think: bon and rank have a --seed of their
    own); a name that already is the judge's passes unchanged."""
    from gram.scoring.protocols import judge_kwargs

    assert judge_kwargs({"think_seed": 3, "think_temperature": 0.5, "think_top_p": 0.9, "samples": 2}) == {
        "seed": 3, "temperature": 0.5, "top_p": 0.9, "samples": 2}
    assert judge_kwargs({"temperature": 0.0}) == {"temperature": 0.0}


def test_the_released_gram_checkpoints_are_not_taken_for_reasoning_ones():
    from gram.scoring.loading import REASONING_NAMES

    assert not REASONING_NAMES.search("GRAM-Qwen3-1.7B-RewardModel")
    assert not REASONING_NAMES.search("GRAM-LLaMA3.2-3B-RewardModel")


def test_a_model_is_read_with_the_template_it_was_trained_with(tmp_path, tiny_model_dir, caplog):
    """The template is saved with the model (train_summary.json) and scoring reads it back; a model gram
    did not train is read with the reference evaluation prompt. A run that had to cut pairs says so."""
    from gram.scoring import load_judge

    data = tmp_path / "l.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "response_a": "long " * 200, "response_b": "b",
                                        "label": "a"}) + "\n" for i in range(4)))
    out = tmp_path / "run"
    with caplog.at_level("WARNING", logger="gram.train"):
        assert main(["finetune", "--model", str(tiny_model_dir), "--train-file", str(data), "--output-dir", str(out),
                     "--max-steps", "1", "--batch-size", "2", "--max-length", "640", "--template", "gram-demo"]) == 0
    assert any("longer than --max-length 640" in r.getMessage() for r in caplog.records)
    assert load_judge(str(out), device="cpu").template == "gram-demo"
    assert load_judge(str(tiny_model_dir), device="cpu").template == "gram-eval"
    assert load_judge(str(out), device="cpu", template="gram").template == "gram"  # the flag wins
