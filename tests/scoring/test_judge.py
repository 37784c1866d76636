import pytest
import torch

from gram.model.batching import length_batches
from gram.records import Pair
from gram.scoring import Judge, combine
from gram.templates import encode_judge, label_token_ids

PAIRS = [
    Pair("What is the capital of France?", "Paris.", "The capital of France is Lyon, a city in the south."),
    Pair("Say hi", "hi", "hello there, how are you doing today my friend?"),
    Pair([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
          {"role": "user", "content": "2+2?"}], "4", "5"),
    Pair("def f(x): return x * x", "It squares x.", "It doubles x, which is the same as adding x to itself."),
    Pair("q", "the quick brown fox " * 8, "lazy dog"),
]


@pytest.fixture()
def judge(tiny_model, tiny_tokenizer):
    return Judge(tiny_model, tiny_tokenizer, max_length=None, max_batch_tokens=100_000)  # real padding


def reference_p_a(model, tokenizer, pair, first, second):
    """The reference approach: one sequence at a time, full logits, softmax over the two labels."""
    ids = encode_judge(tokenizer, pair.prompt, first, second).input_ids
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1]
    a, b = label_token_ids(tokenizer)
    return torch.softmax(logits[[a, b]].float(), dim=-1)[0].item()


def test_scores_match_unbatched_reference(judge, tiny_model, tiny_tokenizer):
    scores = judge.compare_many(PAIRS, batch_size=4)
    for pair, s in zip(PAIRS, scores):
        p_ab = reference_p_a(tiny_model, tiny_tokenizer, pair, pair.response_a, pair.response_b)
        p_ba = reference_p_a(tiny_model, tiny_tokenizer, pair, pair.response_b, pair.response_a)
        assert s.p_a_ab == pytest.approx(p_ab, abs=1e-5)
        assert s.p_a_ba == pytest.approx(p_ba, abs=1e-5)
        assert s.score_a == pytest.approx((p_ab + 1 - p_ba) / 2, abs=1e-5)
    # the tiny model is not indifferent: the test would notice a constant 0.5
    assert max(abs(s.p_a_ab - 0.5) for s in scores) > 0.05


@pytest.mark.parametrize("batch_size", [1, 2, 3, 8])
def test_batch_invariance(judge, batch_size):
    alone = [judge.compare(p.prompt, p.response_a, p.response_b) for p in PAIRS]
    batched = judge.compare_many(PAIRS, batch_size=batch_size)
    for x, y in zip(alone, batched):
        assert y.score_a == pytest.approx(x.score_a, abs=1e-5)
        assert y.p_a_ab == pytest.approx(x.p_a_ab, abs=1e-5)


def test_result_does_not_depend_on_batch_neighbours(judge):
    target = PAIRS[1]
    with_short = judge.compare_many([target, PAIRS[2]], batch_size=2)[0]
    with_long = judge.compare_many([Pair("x " * 200, "y " * 150, "z " * 100), target], batch_size=2)[1]
    assert with_long.score_a == pytest.approx(with_short.score_a, abs=1e-5)


def test_order_symmetry_and_sum(judge):
    for p in PAIRS:
        ab = judge.compare(p.prompt, p.response_a, p.response_b)
        ba = judge.compare(p.prompt, p.response_b, p.response_a)
        assert ab.score_a + ab.score_b == pytest.approx(1.0, abs=1e-9)
        assert ab.score_a == pytest.approx(1.0 - ba.score_a, abs=1e-6)
        assert ab.p_a_ab == pytest.approx(ba.p_a_ba, abs=1e-6)


def test_single_order(judge):
    both = judge.compare_many(PAIRS)
    one = judge.compare_many(PAIRS, orders="ab")
    for x, y in zip(both, one):
        assert y.p_a_ba is None and y.consistent is None
        assert y.score_a == pytest.approx(x.p_a_ab, abs=1e-5)
    with pytest.raises(ValueError):
        judge.compare_many(PAIRS, orders="ba")


def test_logits_only_at_last_position(tiny_model, tiny_tokenizer):
    shapes = []
    handle = tiny_model.lm_head.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
    try:
        Judge(tiny_model, tiny_tokenizer).compare_many(PAIRS, batch_size=8)
    finally:
        handle.remove()
    assert shapes and all(shape[1] == 1 for shape in shapes)


def test_truncated_pairs_are_flagged(tiny_model, tiny_tokenizer):
    base = len(encode_judge(tiny_tokenizer, "", "", "").input_ids)
    judge = Judge(tiny_model, tiny_tokenizer, max_length=base + 60)
    scores = judge.compare_many([PAIRS[0], Pair("q", "word " * 300, "b")])
    assert [s.truncated for s in scores] == [False, True]


def test_consistency_definition():
    assert combine(0.8, 0.3).consistent is True      # a preferred in both orders
    assert combine(0.8, 0.7).consistent is False     # A preferred whatever sits there
    assert combine(0.8, None).consistent is None


def test_batches_respect_rows_and_token_budget(tiny_model, tiny_tokenizer):
    judge = Judge(tiny_model, tiny_tokenizer, max_batch_tokens=100)
    seqs = [[1] * n for n in (10, 60, 20, 30, 5, 200)]
    groups = length_batches([len(s) for s in seqs], 3, judge.max_batch_tokens)
    assert sorted(i for g in groups for i in g) == list(range(6))
    assert groups[0] == [5]  # longest first; over budget alone, still scored
    for g in groups:
        widths = [len(seqs[i]) for i in g]
        assert widths == sorted(widths, reverse=True) and len(g) <= 3
        assert len(g) == 1 or len(g) * widths[0] <= 100
    assert Judge(tiny_model, tiny_tokenizer).max_batch_tokens == 2048  # the CPU default


def test_prefix_reuse_is_exact_and_runs_fewer_tokens(tiny_model, tiny_tokenizer):
    """The template head (and each prompt's question, within its group) is run once: same scores as
    running every sequence in full, for fewer tokens through the model."""
    ranking = [Pair("Pick the best colour for a sky.", f"colour {i} " * (1 + i), f"other {i}") for i in range(4)]
    pairs = PAIRS + ranking + [Pair("same", "x", "x"), Pair("q", "", "a")]
    seen = []
    hook = tiny_model.register_forward_pre_hook(lambda m, a, kw: seen.append(kw["input_ids"].numel()),
                                                with_kwargs=True)
    try:
        full = Judge(tiny_model, tiny_tokenizer, reuse_prefix=False).compare_many(pairs, batch_size=3)
        full_tokens, seen[:] = sum(seen), []
        reuse = Judge(tiny_model, tiny_tokenizer)
        fast = reuse.compare_many(pairs, batch_size=3)
        fast_tokens, seen[:] = sum(seen), []
        again = reuse.compare_many(pairs[:1])  # the kept head is not run again
        second_call = sum(seen)
    finally:
        hook.remove()
    for a, b in zip(full, fast):
        assert b.p_a_ab == pytest.approx(a.p_a_ab, abs=1e-5) and b.p_a_ba == pytest.approx(a.p_a_ba, abs=1e-5)
    assert again[0].score_a == pytest.approx(full[0].score_a, abs=1e-5)
    assert fast_tokens < 0.6 * full_tokens
    head = len(reuse.engine.template_head()[0])
    assert head > 100 and second_call < 2 * (len(encode_judge(tiny_tokenizer, *pairs[0].__dict__.values()).input_ids)
                                             - head) + 1


def test_prefix_reuse_through_a_peft_wrapper_is_exact(tiny_model, tiny_tokenizer):
    """A judge on unmerged LoRA adapters reuses the template head too, with the same scores."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = get_peft_model(tiny_model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    try:
        reuse = Judge(model, tiny_tokenizer)
        assert reuse.reuse_prefix
        fast = reuse.compare_many(PAIRS, batch_size=2)
        full = Judge(model, tiny_tokenizer, reuse_prefix=False).compare_many(PAIRS, batch_size=2)
    finally:
        model.unload()  # the shared fixture gets its plain layers back
    for a, b in zip(full, fast):
        assert b.p_a_ab == pytest.approx(a.p_a_ab, abs=1e-5) and b.p_a_ba == pytest.approx(a.p_a_ba, abs=1e-5)


class AsyncOnlyLabels:
    """The transformers engine's label scores as a coroutine only: what vLLM's async engine offers (tested for
    real on it in the engine phase)."""

    def __init__(self, engine):
        self.engine = engine

    async def alabel_scores(self, sequences, label_ids):
        return self.engine.label_scores(sequences, label_ids)


def test_every_one_token_judge_is_one_read_out_over_its_engine(judge):
    """Judge, VLLMJudge, AsyncVLLMJudge and ServerJudge share LabelJudge's compare_many and acompare_many
    (issue 44: one pipeline, engines by composition); over an engine that only awaits, the scores are the
    blocking engine's, compare_many says to await, and the server batches it continuously (`asynchronous`)."""
    import asyncio

    from gram.scoring.judge import LabelJudge
    from gram.scoring.vllm_judge import AsyncVLLMJudge, VLLMJudge
    from gram.scoring.vllm_server import ServerJudge

    for cls in (Judge, VLLMJudge, AsyncVLLMJudge, ServerJudge):
        assert cls.compare_many is LabelJudge.compare_many and cls.acompare_many is LabelJudge.acompare_many
    awaiting = LabelJudge(AsyncOnlyLabels(judge.engine), judge.tokenizer, max_length=judge.max_length,
                          template=judge.template)
    want = judge.compare_many(PAIRS)
    got = asyncio.run(awaiting.acompare_many(PAIRS))
    assert [g.score_a for g in got] == pytest.approx([w.score_a for w in want], abs=1e-6)
    assert [g.score_a for g in asyncio.run(judge.acompare_many(PAIRS))] == [w.score_a for w in want]
    with pytest.raises(TypeError, match="await judge.acompare_many"):
        awaiting.compare_many(PAIRS)
    assert awaiting.asynchronous and not judge.asynchronous


def test_concurrent_awaits_on_one_transformers_judge_score_as_one_call_at_a_time(tiny_model, tiny_tokenizer):
    """A blocking engine awaited from several tasks runs one call at a time in worker threads: the template
    head is built once, and every task gets the scores of a judge called in turn."""
    import asyncio

    want = [s.score_a for s in Judge(tiny_model, tiny_tokenizer).compare_many(PAIRS)]
    judge = Judge(tiny_model, tiny_tokenizer)  # its head not yet run: the tasks meet there first

    async def together():
        return await asyncio.gather(*(judge.acompare_many(PAIRS) for _ in range(4)))

    for scores in asyncio.run(together()):
        assert [s.score_a for s in scores] == want
