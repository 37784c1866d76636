"""The reasoning judge on the transformers engine (gram.scoring.reasoning), on real generated text: a tiny
model taught GRAM-R²'s output format by 160 SFT steps here, and a random one whose rationales
always run out of budget."""

from __future__ import annotations

import pytest
import torch
from conftest import make_model

from gram.model.sampling import sample
from gram.records import Pair
from gram.scoring.protocols import PROTOCOLS
from gram.scoring.reasoning import ReasoningJudge

RR = PROTOCOLS["gram-rr"]
PAIRS = [Pair("What is 2+2?", "4", "5"), Pair("Name a colour.", "Blue.", "the quick brown fox"),
         Pair("Say hi.", "Hello there!", "no"), Pair("Capital of France?", "Paris.", "Lyon, I think."),
         Pair("A prime?", "7", "8"), Pair("Largest planet?", "Jupiter", "Mars"),
         Pair("2+3?", "5", "6"), Pair("Sky colour?", "Blue", "Green")]
ANSWER = "<think>\nFeedback:\nfine\n</think>\n<answer>\nA\n</answer>"


@pytest.fixture(scope="module")
def format_model(tiny_tokenizer):
    """A tiny Llama taught, by SFT on the rendered prompts, to answer every pair with ANSWER then its end
    token: what it writes is generated, not scripted."""
    tok = tiny_tokenizer
    model = make_model(len(tok), hidden=64, heads=2, head_scale=1).train()
    target = tok(ANSWER, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    rows = []
    for p in PAIRS[:2]:
        for a, b in ((p.response_a, p.response_b), (p.response_b, p.response_a)):
            prompt = tok(RR.render(tok, p.prompt, a, b), add_special_tokens=False)["input_ids"]
            rows.append((prompt, target))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    for step in range(160):
        loss = 0.0
        for prompt, answer in rows[step % 2::2]:
            ids = torch.tensor([prompt + answer])
            labels = torch.tensor([[-100] * len(prompt) + answer])
            loss = loss + model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


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
    z = judge.label_read_out([prompt + tiny_tokenizer(forced[0], add_special_tokens=False)["input_ids"]])[0]
    assert s.p_a_ab == pytest.approx(float(torch.softmax(z, 0)[0]), abs=1e-6)


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
