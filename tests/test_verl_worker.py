"""Issue 31: verl's own reward-loop worker (verl.experimental.reward_loop.RewardLoopWorker, built from
verl's own ppo_trainer config, run on the CPU without ray) calling gram's reward functions: the per-rollout
`compute_score` through verl's NaiveRewardManager, and `compute_group_score` through
gram.integrations.verl_group.GroupRewardManager, both against a real `gram serve`, each configured by
docs/RLHF.md's own yaml fragment. Skipped, with one line,
where verl is not installed; `.ci/run` installs it (`pip install --no-deps verl==0.9.1` and what its reward
loop imports) and runs these (`pytest -m verl`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gram.scoring import load_judge, rank
from test_serve import running_server

pytestmark = pytest.mark.verl

ROLLOUTS = [("u1", "What is 2+2?", "4"), ("u2", "Name a colour.", "Blue."), ("u1", "What is 2+2?", "5"),
            ("u2", "Name a colour.", "the quick brown fox"), ("u1", "What is 2+2?", "It is 4."),
            ("u2", "Name a colour.", "Red, or green.")]


DOC = Path(__file__).resolve().parent.parent / "docs" / "RLHF.md"
DOC_URL, DOC_MODEL = "http://127.0.0.1:8000", "wangclnlp/GRAM-Qwen3-1.7B-RewardModel"


def doc_fragment(marker: str, **replace: str) -> str:
    """The one ```yaml block of docs/RLHF.md holding `marker`, as written but for `replace`'s strings."""
    from test_docs_run import code_blocks

    blocks = [text for _, text, _ in code_blocks(DOC, "yaml") if marker in text]
    assert len(blocks) == 1, f"docs/RLHF.md has {len(blocks)} yaml blocks with {marker!r}"
    for old, new in replace.items():
        assert old in blocks[0]
        blocks[0] = blocks[0].replace(old, new)
    return blocks[0]


def verl_config(model_dir, fragment: str = "", *overrides: str):
    """verl's own ppo_trainer config (hydra, from the installed package), the tiny model as the policy, a
    docs fragment merged in, then `overrides` (dotted keys)."""
    verl = pytest.importorskip("verl", reason="verl is not installed (pip install --no-deps verl==0.9.1; see .ci/run)")
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    config_dir = Path(verl.__file__).parent / "trainer" / "config"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        config = compose(config_name="ppo_trainer", overrides=[f"actor_rollout_ref.model.path={model_dir}",
                                                                "reward.num_workers=1"])
    OmegaConf.set_struct(config, False)  # a fragment may add keys (reward_kwargs), as `+key=` does in hydra
    return OmegaConf.merge(config, OmegaConf.create(fragment or "{}"), OmegaConf.from_dotlist(list(overrides)))


def rollouts(tokenizer, rows, references=None):
    """A DataProto as verl's agent loop hands the reward loop: left-padded prompts, right-padded responses."""
    import numpy as np
    import torch
    from verl import DataProto

    prompt_ids = [tokenizer(prompt)["input_ids"] for _, prompt, _ in rows]
    response_ids = [tokenizer(response)["input_ids"] for _, _, response in rows]
    p_len, r_len = max(map(len, prompt_ids)), max(map(len, response_ids)) + 2
    prompts = torch.tensor([[0] * (p_len - len(p)) + p for p in prompt_ids])
    responses = torch.tensor([r + [0] * (r_len - len(r)) for r in response_ids])
    mask = torch.tensor([[0] * (p_len - len(p)) + [1] * (len(p) + len(r)) + [0] * (r_len - len(r))
                         for p, r in zip(prompt_ids, response_ids)])
    refs = references or [None] * len(rows)
    return DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "input_ids": torch.cat([prompts, responses], 1),
                 "attention_mask": mask, "position_ids": (mask.cumsum(1) - 1).clamp(min=0)},
        non_tensors={"data_source": np.array(["mine"] * len(rows), dtype=object),
                     "reward_model": np.array([{"ground_truth": ref} for ref in refs], dtype=object),
                     "extra_info": np.array([{"question": prompt} for _, prompt, _ in rows], dtype=object),
                     "uid": np.array([uid for uid, _, _ in rows], dtype=object)})


def run_worker(config, data, router=None):
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    worker = RewardLoopWorker(config, reward_router_address=router)
    return worker, worker.loop.run_until_complete(worker.compute_score_batch(data))


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
