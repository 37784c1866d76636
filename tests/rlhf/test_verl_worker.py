"""verl's own reward-loop worker (verl.experimental.reward_loop.RewardLoopWorker, built from
verl's own ppo_trainer config, run on the CPU without ray) calling gram's reward functions: the per-rollout
`compute_score` through verl's NaiveRewardManager, and `compute_group_score` through
gram.integrations.verl_group.GroupRewardManager, both against a real `gram serve`, each configured by
docs/RLHF.md's own yaml fragment. Skipped, with one line,
where verl is not installed; `.ci/run` installs it (`pip install --no-deps verl==0.9.1` and what its reward
loop imports) and runs these (`pytest -m verl`)."""

from __future__ import annotations

import pytest
from helpers import DOC_URL, ROLLOUTS, doc_fragment, rollouts, run_worker, running_server, verl_config

from gram.scoring import load_judge, rank

pytestmark = pytest.mark.verl


def test_verls_worker_scores_each_rollout_through_gram_serve(tiny_model_dir, tiny_tokenizer):
    judge = load_judge(str(tiny_model_dir))
    rows = ROLLOUTS[:4]
    references = ["5", "Red.", "4", "Blue."]
    with running_server(tiny_model_dir, "--token", "t") as base:
        config = verl_config(tiny_model_dir, doc_fragment("token: null", **{DOC_URL: base}),
                             "reward.custom_reward_function.reward_kwargs.token=t")
        _, out = run_worker(config, rollouts(tiny_tokenizer, rows, references))
    for (_, prompt, response), reference, result in zip(rows, references, out):
        s = judge.compare(prompt, response, reference).score_a
        assert result["reward_score"] == pytest.approx(s - 0.5, abs=1e-7)  # fp32 near 0.5: 6e-8
        assert result["reward_extra_info"]["judge_score"] == pytest.approx(s, abs=1e-7)
    assert max(r["reward_score"] for r in out) - min(r["reward_score"] for r in out) > 1e-6  # not a constant


def group_config(model_dir, base, *overrides):
    return verl_config(model_dir, doc_fragment("GroupRewardManager", **{DOC_URL: base}),
                       "actor_rollout_ref.rollout.n=3", *overrides)


def test_verls_worker_gives_group_rewards_per_uid(tiny_model_dir, tiny_tokenizer):
    """Six rollouts of two prompts, interleaved: each gets its centred Bradley-Terry score within its own
    uid's three (rank's round-robin on the judge, computed here by hand from the same judge). The tiny
    judge's rewards are small (~1e-4), so they are compared to 1e-7 (the server batches both groups' pairs
    together, which moves fp32 sums by ~1e-8) and must spread beyond 1e-5."""
    judge = load_judge(str(tiny_model_dir))
    with running_server(tiny_model_dir) as base:
        _, out = run_worker(group_config(tiny_model_dir, base), rollouts(tiny_tokenizer, ROLLOUTS))
        # a group short of its size (a validation pass sampling fewer) is scored at its timeout
        short = ROLLOUTS[:2] + ROLLOUTS[3:4]
        _, short_out = run_worker(group_config(tiny_model_dir, base, "reward.reward_kwargs.group_timeout_s=0.5"),
                                  rollouts(tiny_tokenizer, short))
    for uid in ("u1", "u2"):
        members = [i for i, row in enumerate(ROLLOUTS) if row[0] == uid]
        want = rank(judge, ROLLOUTS[members[0]][1], [ROLLOUTS[i][2] for i in members], "round-robin").scores
        got = [out[i]["reward_score"] for i in members]
        assert got == pytest.approx(want, abs=1e-7)
        assert max(got) - min(got) > 1e-5 and sum(got) == pytest.approx(0.0, abs=1e-9)
    assert short_out[0]["reward_score"] == 0.0  # u1 alone: one response, no comparison
    want = rank(judge, "Name a colour.", ["Blue.", "the quick brown fox"], "round-robin").scores
    assert [short_out[1]["reward_score"], short_out[2]["reward_score"]] == pytest.approx(want, abs=1e-7)
    assert abs(want[0] - want[1]) > 1e-5


def test_the_group_manager_refuses_more_than_one_worker(tiny_model_dir):
    config = group_config(tiny_model_dir, "http://127.0.0.1:9", "reward.num_workers=2")
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    with pytest.raises(ValueError, match="num_workers=1"):
        RewardLoopWorker(config)
