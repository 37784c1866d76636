"""A GRAM reward for verl's reward loop: verl calls `compute_score` once per rollout; it asks a running
`gram serve` for the rollout's score against a reference response (gram.rlhf: reward = s - 0.5, where s is
the judge's both-orders score of the response in the pair (response, reference)).

verl's config (its reward loop reads `reward.custom_reward_function`; the `reward_kwargs` reach this
function as keyword arguments, verl/trainer/ppo/reward.py `get_custom_reward_fn`):

    reward:
      custom_reward_function:
        path: pkg://gram.integrations.verl
        name: compute_score
        reward_kwargs: {gram_url: "http://127.0.0.1:8000", token: null}

verl passes `data_source`, `solution_str` (the decoded response), `ground_truth` (the dataset row's
`reward_model.ground_truth`) and `extra_info` (verl/experimental/reward_loop/reward_manager/naive.py,
`run_single`). The prompt is `extra_info["prompt"]` (or `"question"`, as verl's preprocessing scripts
write it); the reference is `extra_info["reference"]`, else a string `ground_truth`. A row with neither
is an error naming what is missing, never a silent 0.5.
"""

from __future__ import annotations

PROMPT_KEYS = ("prompt", "question")


class MissingField(ValueError):
    """A rollout whose row lacks what the GRAM reward reads."""


def prompt_and_reference(solution_str: str, ground_truth, extra_info) -> tuple[object, str]:
    """The judged prompt (a string or chat messages) and the reference response of one rollout."""
    info = extra_info if isinstance(extra_info, dict) else {}
    prompt = next((info[k] for k in PROMPT_KEYS if info.get(k)), None)
    if prompt is None:
        raise MissingField("gram's verl reward: extra_info has no 'prompt' (or 'question'): put the user prompt "
                           "there in the dataset's extra_info")
    reference = info.get("reference") or (ground_truth if isinstance(ground_truth, str) and ground_truth else None)
    if reference is None:
        raise MissingField("gram's verl reward: no reference response: set extra_info['reference'] or a string "
                           "reward_model.ground_truth in the dataset")
    if not isinstance(solution_str, str):
        raise MissingField(f"gram's verl reward: solution_str must be a string, got {type(solution_str).__name__}")
    return prompt, reference


async def compute_score(data_source=None, solution_str: str = "", ground_truth=None, extra_info=None, *,
                        gram_url: str = "http://127.0.0.1:8000", token: str | None = None, center: bool = True,
                        timeout_s: float = 300.0, **verl_kwargs) -> dict:
    """verl's custom reward function: {"score": reward, "judge_score": s} (verl logs the extra keys). `gram_url`:
    a `gram serve` (its `/reward`); `token`: its bearer token; `center`: reward = s - 0.5 (else s).
    verl's other keyword arguments (`reward_router_address`, `reward_model_tokenizer`) are not used."""
    import httpx

    prompt, reference = prompt_and_reference(solution_str, ground_truth, extra_info)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"prompts": [prompt], "responses": [solution_str], "references": [reference], "center": center}
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        reply = await client.post(gram_url.rstrip("/") + "/reward", json=body, headers=headers)
    if reply.status_code != 200:
        raise RuntimeError(f"gram serve at {gram_url} answered {reply.status_code}: {reply.text[:300]}")
    reward = reply.json()["rewards"][0]
    return {"score": reward, "judge_score": reward + (0.5 if center else 0.0)}
