"""gram's `compute_score` for verl's reward loop, called exactly as verl's
NaiveRewardManager calls a custom async reward function (keyword arguments of
verl/experimental/reward_loop/reward_manager/naive.py `run_single`, the config's `reward_kwargs` merged
over them as verl/trainer/ppo/reward.py `_call_with_kwargs_async` does), against a real `gram serve`."""

from __future__ import annotations

import asyncio

import pytest

from gram.integrations.verl import MissingField, compute_score
from gram.scoring import load_judge
from helpers import running_server


async def as_verl_calls(raw_fn, reward_kwargs: dict, **call):
    merged = {**call, **reward_kwargs}  # verl: extra (config) kwargs take precedence
    return await raw_fn(**merged)


def test_compute_score_as_verl_calls_it_matches_the_judge(tiny_model_dir):
    judge = load_judge(str(tiny_model_dir))
    rows = [("What is 2+2?", "4", "5"), ("Name a colour.", "Blue.", "the quick brown fox")]
    with running_server(tiny_model_dir, "--token", "t") as base:
        kwargs = {"gram_url": base, "token": "t"}
        got = [asyncio.run(as_verl_calls(compute_score, kwargs, data_source="mine", solution_str=response,
                                         ground_truth=reference, extra_info={"question": prompt, "index": i},
                                         reward_router_address=None))
               for i, (prompt, response, reference) in enumerate(rows)]
        in_extra = asyncio.run(as_verl_calls(compute_score, kwargs, data_source="mine", solution_str="4",
                                             ground_truth={"not": "a response"},
                                             extra_info={"prompt": "What is 2+2?", "reference": "5"}))
        wrong_token = {"gram_url": base, "token": "nope"}
        with pytest.raises(RuntimeError, match="401"):
            asyncio.run(as_verl_calls(compute_score, wrong_token, solution_str="4", ground_truth="5",
                                      extra_info={"prompt": "q"}))
    for (prompt, response, reference), result in zip(rows, got):
        s = judge.compare(prompt, response, reference).score_a
        assert result["score"] == pytest.approx(s - 0.5, abs=1e-5)
        assert result["judge_score"] == pytest.approx(s, abs=1e-5)
    assert in_extra["score"] == pytest.approx(got[0]["score"], abs=1e-6)


@pytest.mark.parametrize("ground_truth, extra_info, missing", [
    ("ref", {}, "'prompt'"),
    (None, {"prompt": "q"}, "no reference"),
    ({"answer": 4}, {"question": "q"}, "no reference"),
])
def test_a_row_without_prompt_or_reference_is_an_error_not_a_half(ground_truth, extra_info, missing):
    with pytest.raises(MissingField, match=missing):
        asyncio.run(compute_score(data_source="d", solution_str="r", ground_truth=ground_truth, extra_info=extra_info,
                                  gram_url="http://127.0.0.1:9"))
