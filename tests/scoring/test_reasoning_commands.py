"""A reasoning judge in the commands beyond `gram score` (issue 44): `gram rank` and `gram eval` read the
tiny model taught GRAM-R²'s format (conftest.py, rr_format_model_dir) with `--protocol gram-rr`, and
what they record is what ReasoningJudge itself scores (their `--resume` identity holds the reasoning
flags by the same settings as `gram score`: tests/scoring/test_loading.py)."""

from __future__ import annotations

import json

import pytest
from helpers import RR_PAIRS

from gram.cli import main
from gram.records import PreferencePair
from gram.scoring.rank import rank

FLAGS = ["--protocol", "gram-rr", "--max-think-tokens", "64", "--think-temperature", "0", "--quiet"]


@pytest.fixture(scope="module")
def direct(rr_format_model_dir):
    """The judge the commands should build, called directly."""
    from gram.scoring.reasoning import ReasoningJudge

    return ReasoningJudge.load(str(rr_format_model_dir), "gram-rr", dtype="float32", max_think_tokens=64,
                               temperature=0.0)


def test_gram_rank_ranks_with_a_reasoning_judge(tmp_path, rr_format_model_dir, direct):
    sets = [{"prompt": p.prompt, "responses": [p.response_a, p.response_b, "I do not know."]} for p in RR_PAIRS[:2]]
    src, out = tmp_path / "sets.jsonl", tmp_path / "ranked.jsonl"
    src.write_text("".join(json.dumps(s) + "\n" for s in sets))
    args = ["rank", "--model", str(rr_format_model_dir), "--dtype", "float32", "--input", str(src),
            "--output", str(out), "--strategy", "round-robin", *FLAGS]
    assert main(args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for row, s in zip(rows, sets):
        want = rank(direct, s["prompt"], s["responses"], strategy="round-robin")
        assert row["comparisons"] == want.comparisons == 3 and row["ranking"] == want.order
        assert row["bt_scores"] == pytest.approx(want.scores, abs=1e-5)


def test_gram_eval_evaluates_a_reasoning_judge(tmp_path, rr_format_model_dir, direct):
    rows = [PreferencePair.from_preference(p.prompt, p.response_a, p.response_b, source="t", category="c").to_row()
            for p in RR_PAIRS[:4]]
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["eval", "--model", str(rr_format_model_dir), "--dtype", "float32", "--benchmark", str(bench),
                 "--output", str(tmp_path / "results"), *FLAGS]) == 0
    (where,) = list((tmp_path / "results").glob("*/bench"))
    results = json.loads((where / "results.json").read_text())
    reasoning = results["settings"]["reasoning"]
    assert reasoning["protocol"] == "gram-rr" and reasoning["max_think_tokens"] == 64
    scored = [json.loads(line) for line in (where / "scores.jsonl").read_text().splitlines()]
    want = direct.compare_many(RR_PAIRS[:4])
    assert [r["score_a"] for r in scored] == pytest.approx([w.score_a for w in want], abs=1e-5)
    assert all(len(r["rationales"]) == 2 for r in scored)  # per order, kept in the scores


def test_gram_bon_picks_with_a_reasoning_judge(tmp_path, tiny_model_dir, rr_format_model_dir, direct):
    """The policy samples (its own --temperature and --seed), the reasoning judge picks (--think-*)."""
    out = tmp_path / "bon.jsonl"
    assert main(["bon", "--prompt", "What is 2+2?", "--policy", str(tiny_model_dir), "--model", str(rr_format_model_dir),
                 "--dtype", "float32", "--n", "3", "--max-new-tokens", "4", "--temperature", "1.0", "--seed", "3",
                 "--strategy", "round-robin", "--output", str(out), *FLAGS]) == 0
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    want = rank(direct, row["prompt"], row["responses"], strategy="round-robin")
    assert row["ranking"] == want.order and row["bt_scores"] == pytest.approx(want.scores, abs=1e-5)


def test_gram_serve_answers_with_a_reasoning_judge(rr_format_model_dir, direct):
    """/compare gives the reasoning rows (soft score, votes, rationales) that the judge computes; /reward's
    rewards come from the same scores."""
    from fastapi.testclient import TestClient

    from gram.serve import create_app

    pairs = [{"prompt": p.prompt, "response_a": p.response_a, "response_b": p.response_b} for p in RR_PAIRS[:2]]
    with TestClient(create_app(direct)) as client:
        got = client.post("/compare", json={"pairs": pairs})
        reward = client.post("/reward", json={"prompts": [pairs[0]["prompt"]], "responses": [pairs[0]["response_a"]],
                                               "references": [pairs[0]["response_b"]]})
        health = client.get("/health")
    assert got.status_code == 200 and reward.status_code == 200 and health.status_code == 200
    want = direct.compare_many(RR_PAIRS[:2])
    for row, w in zip(got.json()["scores"], want):
        assert row["score_a"] == pytest.approx(w.score_a, abs=1e-5) and row["votes_a"] == w.votes_a
        assert row["rationales"] == [list(r) for r in w.rationales] and row["verdict"] == w.verdict
    assert reward.json()["rewards"][0] == pytest.approx(2 * want[0].score_a - 1, abs=1e-5)


def test_gram_reward_gives_a_reasoning_judges_rewards(direct):
    """GramReward (TRL's reward function) and AsyncGramReward read a reasoning judge's soft score, in both
    modes, as they read the one-token judge's."""
    import asyncio

    from gram.rlhf import AsyncGramReward, GramReward

    prompts, responses, refs = [p.prompt for p in RR_PAIRS[:3]], [p.response_a for p in RR_PAIRS[:3]], \
        [p.response_b for p in RR_PAIRS[:3]]
    want = [s.score_a - 0.5 for s in direct.compare_many(list(zip(prompts, responses, refs)))]
    assert GramReward(direct)(prompts, responses, reference=refs) == pytest.approx(want, abs=1e-6)
    assert asyncio.run(AsyncGramReward(direct)(prompts, responses, reference=refs)) == pytest.approx(want, abs=1e-6)
    group = ["4", "5", "I do not know."]
    strengths = rank(direct, "What is 2+2?", group, "round-robin").scores
    assert GramReward(direct, mode="group")(["What is 2+2?"] * 3, group) == pytest.approx(strengths, abs=1e-6)


class AsyncOnly:
    """The transformers engine's two operations as coroutines only: what vLLM's async engine offers a judge
    (tested for real on it, and on an OpenAI server, in the engine phase)."""

    def __init__(self, engine):
        self.engine = engine

    async def asample(self, *args):
        return self.engine.sample(*args)

    async def alabel_scores(self, *args):
        return self.engine.label_scores(*args)


def test_the_async_reasoning_judge_scores_as_the_blocking_one(direct):
    import asyncio

    from gram.scoring.reasoning import ReasoningJudge

    sampled = {"max_think_tokens": 24, "temperature": 1.0, "samples": 2}  # each rationale its own seed
    judge = ReasoningJudge.reading("gram-rr", None, direct.tokenizer, engine=AsyncOnly(direct.engine), **sampled)
    blocking = ReasoningJudge.reading("gram-rr", direct.model, direct.tokenizer, batch_size=3, **sampled)
    got, want = asyncio.run(judge.acompare_many(RR_PAIRS[:3])), blocking.compare_many(RR_PAIRS[:3])
    assert len({r for w in want for order in w.rationales for r in order}) > 3  # the samples differ
    assert [g.rationales for g in got] == [w.rationales for w in want]
    assert [(g.votes_a, g.votes_b, g.no_verdict) for g in got] == [(w.votes_a, w.votes_b, w.no_verdict) for w in want]
    assert [g.score_a for g in got] == pytest.approx([w.score_a for w in want], abs=1e-6)
    assert asyncio.run(judge.acompare_many([])) == []
    with pytest.raises(TypeError, match="await judge.acompare_many"):
        judge.compare_many(RR_PAIRS[:1])
    assert judge.asynchronous and not blocking.asynchronous  # gram serve batches the first continuously
    # a blocking engine awaited: its calls run in a worker thread, with the same scores
    assert [g.score_a for g in asyncio.run(blocking.acompare_many(RR_PAIRS[:3]))] == [w.score_a for w in want]
