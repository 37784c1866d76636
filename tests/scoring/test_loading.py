"""gram.scoring.loading: a model is read with the template it was trained with; reward-reasoning (GRAM-R^2)
checkpoints are refused by name, and the released GRAM checkpoints are not taken for them."""

from __future__ import annotations

import json

import pytest
from helpers import PAIR

from gram.cli import main


@pytest.mark.parametrize("name", ["wangclnlp/GRAM-RR-LLaMA-3.1-8B-RewardModel", "runs/gram-rr-llama-3.2-3b"])
def test_a_reward_reasoning_checkpoint_is_refused_by_name(tmp_path, name, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(PAIR) + "\n")
    assert main(["score", "--model", name, "--input", str(src), "--output", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "GRAM-R^2 reward-reasoning model" in err[0]


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
