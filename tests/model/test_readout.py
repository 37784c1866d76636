"""The judge reads its label logits in fp32 whatever the body's dtype (gram.model.readout): a bf16 judge's
P(A) is not quantized into exact ties, and an fp32 judge reads what it read before."""

from __future__ import annotations

import copy

import torch

from gram.model import readout
from gram.model.readout import label_logits, plain_head
from gram.records import Pair
from gram.scoring import Judge
from gram.templates import encode_judge, label_token_ids

PAIRS = [Pair(f"Question {i}: what is {i} + {i}?", f"It is {2 * i}.", f"Maybe {i}{i}, or so " * (1 + i % 3))
         for i in range(24)]


def batch(tokenizer, pairs):
    ids = [encode_judge(tokenizer, p.prompt, p.response_a, p.response_b, max_length=1024).input_ids for p in pairs]
    width = max(map(len, ids))
    input_ids = torch.tensor([[0] * (width - len(x)) + x for x in ids])
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids])
    return {"input_ids": input_ids, "attention_mask": mask}


def test_an_fp32_model_reads_its_own_logits(tiny_model, tiny_tokenizer):
    ids = list(label_token_ids(tiny_tokenizer))
    inputs = batch(tiny_tokenizer, PAIRS[:6])
    with torch.inference_mode():
        want = tiny_model(**inputs).logits[:, -1, ids]
        assert torch.allclose(label_logits(tiny_model, ids, **inputs), want, atol=1e-4, rtol=1e-6)


def test_a_bf16_judge_is_not_quantized_into_ties(tiny_model, tiny_tokenizer, monkeypatch):
    """bf16 logits of the tiny judge collide (P(A) takes few values); the fp32 read-out of the same bf16
    body keeps them apart and stays near the fp32 judge."""
    bf16 = copy.deepcopy(tiny_model).to(torch.bfloat16)
    ids = list(label_token_ids(tiny_tokenizer))
    inputs = batch(tiny_tokenizer, PAIRS)
    with torch.inference_mode():
        quantized = torch.softmax(bf16(**inputs).logits[:, -1, ids].float(), dim=-1)[:, 0]
        read = torch.softmax(label_logits(bf16, ids, **inputs), dim=-1)[:, 0]
        exact = torch.softmax(tiny_model(**inputs).logits[:, -1, ids].float(), dim=-1)[:, 0]
    assert len(set(quantized.tolist())) < len(PAIRS) - 4  # the bug: many P(A) exactly equal
    assert len(set(read.tolist())) == len(set(exact.tolist()))
    assert (read - exact).abs().max() < (quantized - exact).abs().max()
    scores = Judge(bf16, tiny_tokenizer, max_length=1024).compare_many(PAIRS)
    monkeypatch.setattr(readout, "plain_head", lambda model: None)  # bf16 logits, as before the fix
    before = Judge(bf16, tiny_tokenizer, max_length=1024).compare_many(PAIRS)
    ties, ties_before = (sum(s.pick == "tie" for s in x) for x in (scores, before))
    # Here 7 exact ties became 1: that one is two orders whose bf16 hidden states are the same vector
    assert ties <= 1 < 5 <= ties_before and len({s.p_a_ab for s in scores}) == len(PAIRS)


def test_a_head_with_a_logit_transform_reads_the_models_logits(tiny_model):
    capped = copy.deepcopy(tiny_model)
    assert plain_head(capped) is capped.lm_head
    capped.config.final_logit_softcapping = 30.0
    assert plain_head(capped) is None


def test_a_head_partitioned_away_reads_the_models_logits(tiny_model):
    """Under DeepSpeed ZeRO-3 a layer's weight is an empty placeholder outside its forward pass."""
    sharded = copy.deepcopy(tiny_model)
    sharded.lm_head.weight = torch.nn.Parameter(torch.empty(0))
    assert plain_head(sharded) is None
