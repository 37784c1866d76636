"""One contract for every Scorer (gram.scoring.base): the generative judge, the Bradley-Terry reward
model, and the server's batching proxy. Scores of a pair sum to 1, swapping a pair swaps its scores, and
the batch a pair is scored in never changes its score."""

from __future__ import annotations

import asyncio
import threading

import pytest
import torch
from helpers import PAIRS

from gram.records import Pair
from gram.scoring import Judge, RewardModelJudge, Scorer
from gram.serve import BatchedJudge, Batcher


def reward_model(vocab_size: int):
    from transformers import LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096, num_labels=1,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = LlamaForSequenceClassification(config)
    with torch.no_grad():
        model.score.weight.mul_(40)  # rewards far apart, so scores are far from 0.5
    return model.eval()


@pytest.fixture(scope="module")
def server_proxy(tiny_model, tiny_tokenizer):
    """A BatchedJudge over a running Batcher, on an event loop in its own thread, as the server runs it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    batcher = Batcher(Judge(tiny_model, tiny_tokenizer, batch_size=4), max_wait_ms=0)

    async def start():
        batcher.start()

    asyncio.run_coroutine_threadsafe(start(), loop).result()
    yield BatchedJudge(batcher, loop)
    asyncio.run_coroutine_threadsafe(batcher.stop(), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    thread.join()


@pytest.fixture(params=["generative", "bradley-terry", "server"])
def scorer(request, tiny_model, tiny_tokenizer):
    if request.param == "generative":
        return Judge(tiny_model, tiny_tokenizer, batch_size=4)
    if request.param == "bradley-terry":
        return RewardModelJudge(reward_model(len(tiny_tokenizer)), tiny_tokenizer, batch_size=4)
    return request.getfixturevalue("server_proxy")


def test_is_a_scorer(scorer):
    assert isinstance(scorer, Scorer)


def test_scores_sum_to_one(scorer):
    for s in scorer.compare_many(PAIRS):
        assert s.score_a + s.score_b == pytest.approx(1.0, abs=1e-9)
        assert 0.0 <= s.score_a <= 1.0


def test_swapping_a_pair_swaps_its_scores(scorer):
    scores = scorer.compare_many(PAIRS)
    swapped = scorer.compare_many([Pair(p.prompt, p.response_b, p.response_a) for p in PAIRS])
    spread = max(s.score_a for s in scores) - min(s.score_a for s in scores)
    assert spread > 1e-4  # not a constant scorer (the random judge's scores differ from 0.5 by ~1e-4)
    for s, t in zip(scores, swapped):
        assert t.score_a == pytest.approx(s.score_b, abs=1e-6)
        assert t.score_b == pytest.approx(s.score_a, abs=1e-6)


def test_batch_size_does_not_change_a_score(scorer):
    together = scorer.compare_many(PAIRS, batch_size=len(PAIRS))
    alone = [scorer.compare(p.prompt, p.response_a, p.response_b) for p in PAIRS]
    in_twos = scorer.compare_many(PAIRS, batch_size=2)
    for s, t, u in zip(together, alone, in_twos):
        assert t.score_a == pytest.approx(s.score_a, abs=1e-6)
        assert u.score_a == pytest.approx(s.score_a, abs=1e-6)


def test_progress_counts_pairs(scorer):
    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    bar = Bar()
    scorer.compare_many(PAIRS, progress=bar)
    assert bar.n == pytest.approx(len(PAIRS))


def test_every_pair_shape_scores_the_pair_itself(scorer):
    """A README-format row dict (extra keys ignored), a tuple and a Pair give the same scores; a dict is
    never unpacked into its key names (issue 35: `Pair(*row)` scored "prompt", "response_a", ...)."""
    want = [s.score_a for s in scorer.compare_many(PAIRS)]
    rows = [{"prompt": p.prompt, "response_a": p.response_a, "response_b": p.response_b, "id": i}
            for i, p in enumerate(PAIRS)]
    tuples = [(p.prompt, p.response_a, p.response_b) for p in PAIRS]
    key_names = scorer.compare("prompt", "response_a", "response_b").score_a
    for shape in (rows, tuples):
        got = [s.score_a for s in scorer.compare_many(shape)]
        assert got == pytest.approx(want, abs=1e-6)
    assert [s.score_a for s in scorer.compare_many(rows[:1])] != pytest.approx([key_names], abs=1e-9)


@pytest.mark.parametrize("bad, message", [
    ({"prompt": "Hi", "response_a": "Hello"}, "pairs: record 1: response_b: missing"),
    ("What is 2+2?", "pairs: record 1: expected a Pair, a dict with prompt, response_a and response_b, or a "
                     "(prompt, response_a, response_b) tuple; got a str"),
    (("Hi", "Hello"), "got a tuple of 2"),
    ({"prompt": 3, "response_a": "x", "response_b": "y"}, "pairs: record 1: prompt: expected a string"),
])
def test_anything_else_is_refused_in_one_line(scorer, bad, message):
    from gram.io import InputError

    with pytest.raises(InputError) as err:
        scorer.compare_many([PAIRS[0], bad])
    assert message in str(err.value) and "\n" not in str(err.value)
