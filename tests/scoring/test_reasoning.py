"""The reasoning judge on the transformers engine (gram.scoring.reasoning), on real generated text: a tiny
model taught GRAM-R²'s output format by 160 SFT steps (conftest.py, rr_format_model_dir), and a random one
whose rationales always run out of budget."""

from __future__ import annotations

import pytest
import torch
from conftest import make_model
from helpers import RR_ANSWER as ANSWER
from helpers import RR_PAIRS as PAIRS

from gram.model.sampling import sample
from gram.scoring.protocols import PROTOCOLS
from gram.scoring.reasoning import ReasoningJudge

RR = PROTOCOLS["gram-rr"]


@pytest.fixture(scope="module")
def format_model(rr_format_model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(rr_format_model_dir).eval()


def test_greedy_sampling_is_transformers_generate(format_model, tiny_tokenizer):
    """The sampler's greedy path writes the tokens `generate` writes, row by row in a left-padded batch."""
    tok = tiny_tokenizer
    prompts = [tok(RR.render(tok, p.prompt, p.response_a, p.response_b), add_special_tokens=False)["input_ids"]
               for p in PAIRS[:3]]
    ours = sample(format_model, prompts, seeds=[0, 0, 0], max_new_tokens=12, pad_id=0)
    for prompt, row in zip(prompts, ours):
        theirs = format_model.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False,
                                       pad_token_id=0, eos_token_id=None)[0, len(prompt):].tolist()
        assert row == theirs


def test_a_taught_judge_parses_what_it_wrote(format_model, tiny_tokenizer):
    judge = ReasoningJudge(format_model, tiny_tokenizer, RR, samples=1, temperature=0.0, max_think_tokens=64)
    scores = judge.compare_many(PAIRS[:2])
    for s in scores:
        (ab,), (ba,) = s.rationales
        assert ab == ba == ANSWER  # generated, then decoded
        assert RR.parse(ab) == "A"
        assert (s.votes_a, s.votes_b, s.no_verdict, s.think_truncated) == (1, 1, 0, 0)  # "A" in both orders
        assert s.p_a_ab > 0.9 and s.p_a_ba > 0.9  # the soft read-out agrees with what it wrote
        assert s.score_a + s.score_b == pytest.approx(1.0)
        assert s.verdict == "tie" and set(s.fields()) == set(s.FIELDS)


def test_an_exhausted_budget_forces_the_answer_and_says_so(format_model, tiny_tokenizer):
    """Six tokens cannot reach `<answer>`: gram closes the rationale, opens the answer, reads the labels there
    (the hard verdict is the larger one), and counts it; never a silent "B"."""
    judge = ReasoningJudge(format_model, tiny_tokenizer, RR, samples=2, temperature=0.0, max_think_tokens=6)
    (s,) = judge.compare_many(PAIRS[:1])
    assert s.think_truncated == 4 and s.no_verdict == 0 and s.votes_a + s.votes_b == 4
    written = s.rationales[0][0]
    prompt = tiny_tokenizer(RR.render(tiny_tokenizer, PAIRS[0].prompt, PAIRS[0].response_a, PAIRS[0].response_b), add_special_tokens=False)["input_ids"]
    forced = RR.until_label(written)
    assert forced[1] and forced[0].endswith("</think>\n<answer>\n")
    (z,) = judge.engine.label_scores([prompt + tiny_tokenizer(forced[0], add_special_tokens=False)["input_ids"]],
                                     judge.label_ids)
    assert s.p_a_ab == pytest.approx(float(torch.softmax(torch.tensor(z), 0)[0]), abs=1e-6)


def test_seeded_samples_do_not_depend_on_the_batch(tiny_tokenizer):
    """At temperature 0.75, 2 samples: each pair's rationales and score are the same scored alone (batch 1) or
    with seven others (batch 8)."""
    model = make_model(len(tiny_tokenizer), hidden=64, heads=2, head_scale=8)
    judge = ReasoningJudge(model, tiny_tokenizer, RR, samples=2, max_think_tokens=8, seed=3)
    assert judge.temperature == 0.75  # the authors' setting
    together = judge.compare_many(PAIRS, batch_size=8)
    for pair, s in zip(PAIRS[:3], together):
        (alone,) = judge.compare_many([pair], batch_size=1)
        assert alone.rationales == s.rationales
        assert alone.score_a == pytest.approx(s.score_a, abs=1e-5)
    assert len({s.rationales[0][0] for s in together}) > 1  # the samples differ between pairs
    assert together[0].rationales[0][0] != together[0].rationales[0][1]  # and between samples


def test_one_order_scores_a_first_only(format_model, tiny_tokenizer):
    judge = ReasoningJudge(format_model, tiny_tokenizer, RR, temperature=0.0, max_think_tokens=64,
                           keep_rationales=False)
    (s,) = judge.compare_many(PAIRS[:1], orders="ab")
    assert s.p_a_ba is None and s.rationales is None and s.score_a == s.p_a_ab and (s.votes_a, s.votes_b) == (1, 0)


def test_a_long_pair_is_shortened_to_max_length_and_flagged(format_model, tiny_tokenizer):
    """As for the one-token judge: the responses lose their middles, the template (and so the label
    position) stays whole, and the score says so."""
    judge = ReasoningJudge(format_model, tiny_tokenizer, RR, temperature=0.0, max_think_tokens=8, max_length=None)
    long = PAIRS[0].__class__(PAIRS[0].prompt, "the quick brown fox " * 200, PAIRS[0].response_b)
    full = len(tiny_tokenizer(RR.render(tiny_tokenizer, long.prompt, long.response_a, long.response_b),
                              add_special_tokens=False)["input_ids"])
    (whole,) = judge.compare_many([long], orders="ab")
    judge.max_length = full - 300
    (short,) = judge.compare_many([long], orders="ab")
    assert not whole.truncated and short.truncated
