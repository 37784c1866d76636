"""`--freeze-layers N`: the first N blocks and the input embeddings do not move; the rest trains; with tied
embeddings the shared matrix still learns from the LM head."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from gram.cli import main
from gram.train.freezing import freeze_lower_layers


def write_pairs(path, n=8):
    path.write_text("".join(json.dumps({"prompt": f"Question {i}?", "response_a": f"The answer {i} is right.",
                                        "response_b": f"no {i}", "label": "ab"[i % 2]}) + "\n" for i in range(n)))
    return path


def test_frozen_blocks_do_not_move_and_the_rest_trains(tmp_path, tiny_model_dir, caplog):
    out = tmp_path / "run"
    with caplog.at_level("WARNING", logger="gram.train"):
        assert main(["finetune", "--model", str(tiny_model_dir), "--train-file", str(write_pairs(tmp_path / "d.jsonl")),
                     "--output-dir", str(out), "--max-steps", "2", "--batch-size", "2", "--learning-rate", "1e-2",
                     "--max-length", "1024", "--freeze-layers", "1"]) == 0
    before, after = load_file(tiny_model_dir / "model.safetensors"), load_file(out / "model.safetensors")
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith(("model.layers.1.", "model.norm", "lm_head")) for k in moved)
    assert not any(k.startswith(("model.layers.0.", "model.embed_tokens")) for k in moved)
    assert any("froze 1 of 2 blocks" in r.getMessage() for r in caplog.records)


def test_tied_embeddings_learn_from_the_head_only(tiny_tokenizer):
    from conftest import make_model

    model = make_model(len(tiny_tokenizer))
    model.config.tie_word_embeddings = True
    model.lm_head.weight = model.model.embed_tokens.weight
    info = freeze_lower_layers(model, 1)
    assert info["tied_embeddings"] and model.model.embed_tokens.weight.requires_grad
    ids = torch.tensor([[5, 6, 7, 8]])
    model(input_ids=ids).logits[0, -1].sum().backward()
    assert model.model.embed_tokens.weight.grad is not None  # from the head
    assert all(p.grad is None for p in model.model.layers[0].parameters())  # no backward through block 0
    assert all(p.grad is not None for p in model.model.layers[1].parameters() if p.requires_grad)
    with pytest.raises(ValueError, match="between 1 and 1"):
        freeze_lower_layers(make_model(len(tiny_tokenizer)), 2)


def test_freezing_refuses_lora_and_checkpointing(tmp_path, tiny_model_dir, capsys):
    assert main(["finetune", "--model", str(tiny_model_dir), "--train-file", str(write_pairs(tmp_path / "d.jsonl")),
                 "--output-dir", str(tmp_path / "r"), "--freeze-layers", "1", "--lora"]) == 2
    assert "--freeze-layers goes with neither --lora" in capsys.readouterr().err
