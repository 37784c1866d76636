"""A GRAM reward for verl's reward loop. verl calls `compute_score` once per rollout: the rollout's score
against a reference response (gram.rlhf: reward = s - 0.5, where s is the judge's both-orders score of the
response in the pair (response, reference)). `compute_group_score` scores a prompt's whole group at once
(GRPO; called by gram.integrations.verl_group.GroupRewardManager): each response's centred Bradley-Terry
log-strength among the group's n(n-1)/2 comparisons.

Two ways to the judge, both taking the same prompts:
1. `gram serve` (`gram_url`): the judge runs in gram's process, its `/reward` endpoint.
2. verl's own reward-model servers (`reward.reward_model.enable: true`, the GRAM checkpoint as its
   `model_path`): verl then passes `reward_router_address` ("ip:port") and `reward_model_tokenizer`, and
   gram renders both orders with its templates and reads the two label tokens' log-probabilities from the
   servers' OpenAI-compatible API (gram.scoring.vllm_server.ServerJudge). A reasoning judge (a GRAM-RR
   checkpoint, or `reasoning: {protocol: ...}` in the reward_kwargs) writes its rationales there too
   (gram.scoring.vllm_server.ServerEngine), each with its own seed, and is read as gram reads it elsewhere.

verl's config (its reward loop reads `reward.custom_reward_function`; the `reward_kwargs` reach this
function as keyword arguments, verl/trainer/ppo/reward.py `get_custom_reward_fn`):

    reward:
      custom_reward_function:
        path: pkg://gram.integrations.verl
        name: compute_score
        reward_kwargs: {gram_url: "http://127.0.0.1:8000", token: null}   # way 1; {} for way 2

verl passes `data_source`, `solution_str` (the decoded response), `ground_truth` (the dataset row's
`reward_model.ground_truth`) and `extra_info` (verl/experimental/reward_loop/reward_manager/naive.py,
`run_single`). The prompt is `extra_info["prompt"]` (or `"question"`, as verl's preprocessing scripts
write it); the reference is `extra_info["reference"]`, else a string `ground_truth`. A row with neither
is an error naming what is missing, never a silent 0.5.
"""

from __future__ import annotations

import asyncio
import math

from ..errors import MissingField, ServerError
from ..http import loop_client

PROMPT_KEYS = ("prompt", "question")


def prompt_and_reference(solution_str: str, ground_truth, extra_info) -> tuple[object, str]:
    """The judged prompt (a string or chat messages) and the reference response of one rollout."""
    prompt = prompt_of(extra_info)
    info = extra_info if isinstance(extra_info, dict) else {}
    reference = info.get("reference") or (ground_truth if isinstance(ground_truth, str) and ground_truth else None)
    if reference is None:
        raise MissingField("gram's verl reward: no reference response: set extra_info['reference'] or a string "
                           "reward_model.ground_truth in the dataset")
    check_response(solution_str)
    return prompt, reference


def prompt_of(extra_info):
    """The judged prompt (a string or chat messages) of one rollout's row."""
    info = extra_info if isinstance(extra_info, dict) else {}
    prompt = next((info[k] for k in PROMPT_KEYS if info.get(k)), None)
    if prompt is None:
        raise MissingField("gram's verl reward: extra_info has no 'prompt' (or 'question'): put the user prompt "
                           "there in the dataset's extra_info")
    return prompt


def check_response(solution_str) -> str:
    if not isinstance(solution_str, str):
        raise MissingField(f"gram's verl reward: solution_str must be a string, got {type(solution_str).__name__}")
    return solution_str


async def compute_score(data_source=None, solution_str: str = "", ground_truth=None, extra_info=None, *,
                        gram_url: str | None = None, token: str | None = None, center: bool = True,
                        timeout_s: float = 300.0, reward_router_address: str | None = None,
                        reward_model_tokenizer=None, template: str | None = None, max_length: int | None = 2048,
                        model: str | None = None, reasoning: dict | None = None, **verl_kwargs) -> dict:
    """verl's custom reward function: {"score": reward, "judge_score": s} (verl logs the extra keys).
    `gram_url`: a `gram serve` (its `/reward`; `token` its bearer token); else verl's reward-model servers
    at `reward_router_address` with `reward_model_tokenizer` (`template`, `max_length`: the judge prompt's;
    `model`: the served name, None for the first the servers list; `reasoning`: a reasoning judge's options,
    gram.scoring.protocols.ReasoningOptions' fields, e.g. {protocol: gram-rr, samples: 4}; a GRAM-RR
    checkpoint gets gram-rr untold). `center`: reward = s - 0.5 (else s)."""
    prompt, reference = prompt_and_reference(solution_str, ground_truth, extra_info)
    if gram_url:
        body = {"prompts": [prompt], "responses": [solution_str], "references": [reference], "center": False}
        s = (await ask_gram_serve(gram_url, token, body, timeout_s))[0]
    else:
        judge = server_judge(reward_router_address, reward_model_tokenizer, template, max_length, model, timeout_s,
                             reasoning)
        scores = await within(timeout_s, reward_router_address, judge.acompare_many([(prompt, solution_str, reference)]))
        s = scores[0].score_a
    return {"score": s - (0.5 if center else 0.0), "judge_score": s}


async def compute_group_score(data_sources=None, solution_strs=(), ground_truths=None, extra_infos=(), *,
                              gram_url: str | None = None, token: str | None = None, timeout_s: float = 300.0,
                              reward_router_address: str | None = None, reward_model_tokenizer=None,
                              template: str | None = None, max_length: int | None = 2048, model: str | None = None,
                              reasoning: dict | None = None, **verl_kwargs) -> list[dict]:
    """One group's rewards, [{"score": r_i}] in order: the centred Bradley-Terry log-strength of each of the n
    responses to one prompt, fitted to the judge's n(n-1)/2 comparisons, both orders each (gram.rlhf's
    mode="group"; a group of one gets 0). The judge is reached as by `compute_score`."""
    from ..rlhf import GramReward

    responses = [check_response(r) for r in solution_strs]
    prompt = prompt_of(extra_infos[0] if extra_infos else None)
    if len(responses) < 2:
        return [{"score": 0.0} for _ in responses]
    if gram_url:
        body = {"prompts": [prompt] * len(responses), "responses": responses, "mode": "group"}
        rewards = await ask_gram_serve(gram_url, token, body, timeout_s)
    else:
        judge = server_judge(reward_router_address, reward_model_tokenizer, template, max_length, model, timeout_s,
                             reasoning)
        group = GramReward(judge, mode="group")
        rewards = await within(timeout_s, reward_router_address,
                               asyncio.to_thread(group.group_scores, [prompt] * len(responses), responses))
    return [{"score": r} for r in rewards]


async def ask_gram_serve(gram_url: str, token: str | None, body: dict, timeout_s: float) -> list[float]:
    """`/reward`'s rewards for one request body. `timeout_s` bounds the whole call (connecting, sending, a
    server that trickles its answer a byte at a time), not each read. Whatever the answer, the rewards come
    back as one finite float per response, or a ServerError naming the server, the status and what was
    wrong."""
    import httpx

    url = gram_url.rstrip("/") + "/reward"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        reply = await asyncio.wait_for(loop_client().post(url, json=body, headers=headers, timeout=timeout_s),
                                       timeout_s)
    except (TimeoutError, asyncio.TimeoutError):
        raise ServerError(f"gram serve at {gram_url} did not answer within {timeout_s} s (timeout_s)") from None
    except httpx.HTTPError as err:
        raise ServerError(f"gram serve at {gram_url}: {type(err).__name__}: {err}") from None
    return rewards_of(reply, gram_url, len(body["responses"]))


def rewards_of(reply, gram_url: str, expected: int) -> list[float]:
    """The `rewards` of a /reward answer, checked: status 200, a JSON object, a list of `expected` finite
    numbers."""
    where = f"gram serve at {gram_url} answered {reply.status_code}"
    if reply.status_code != 200:
        raise ServerError(f"{where}: {reply.text[:300]}")
    try:
        answer = reply.json()
    except ValueError:
        raise ServerError(f"{where} with something other than JSON: {reply.text[:100]!r}") from None
    rewards = answer.get("rewards") if isinstance(answer, dict) else None
    if not isinstance(rewards, list) or len(rewards) != expected:
        raise ServerError(f"{where} without a list of {expected} `rewards`: {reply.text[:100]!r}")
    if not all(isinstance(r, (int, float)) and not isinstance(r, bool) and math.isfinite(r) for r in rewards):
        raise ServerError(f"{where} with rewards that are not all finite numbers: {rewards[:8]!r}")
    return [float(r) for r in rewards]


_judges: dict[tuple, object] = {}


async def within(timeout_s: float, address: str, call):
    """`await call`, or a ServerError once timeout_s has passed (a reasoning judge's call is several
    exchanges with the servers: the deadline is for all of them)."""
    try:
        return await asyncio.wait_for(call, timeout_s)
    except (TimeoutError, asyncio.TimeoutError):
        raise ServerError(f"the judge server at {address} did not answer within {timeout_s} s (timeout_s)") from None


def server_judge(address, tokenizer, template, max_length, model, timeout_s, reasoning: dict | None = None):
    """The judge on verl's reward-model servers, one per address, tokenizer and settings (made on the first
    rollout that asks for it)."""
    if not address or tokenizer is None:
        raise MissingField("gram's verl reward: no judge to ask: set reward_kwargs.gram_url to a `gram serve`, or "
                           "enable verl's reward model (reward.reward_model.enable=true, model_path the GRAM "
                           "checkpoint), which passes reward_router_address and reward_model_tokenizer")
    key = (address, id(tokenizer), template, max_length, model, timeout_s, repr(reasoning))
    if key not in _judges:
        _judges[key] = new_server_judge(address, tokenizer, template, max_length, model, timeout_s, reasoning)
    return _judges[key]


def new_server_judge(address, tokenizer, template, max_length, model, timeout_s, reasoning: dict | None):
    """GRAM's one-token judge (gram.scoring.vllm_server.ServerJudge), or a reasoning judge over the same
    servers (gram.scoring.reasoning.ReasoningJudge over ServerEngine) where `reasoning` names a
    protocol or the checkpoint is a GRAM-RR one."""
    from ..scoring.loading import reasoning_protocol
    from ..scoring.vllm_server import ServerJudge

    name = getattr(tokenizer, "name_or_path", "") or ""
    protocol = (reasoning or {}).get("protocol") or (reasoning_protocol(name) if name else None)
    if reasoning and not protocol:
        from ..scoring.protocols import PROTOCOLS

        raise MissingField("gram's verl reward: reward_kwargs.reasoning names no protocol and the checkpoint is not "
                           f"a GRAM-RR one: add `protocol` ({', '.join(PROTOCOLS)})")
    if not protocol:
        return ServerJudge(address, tokenizer, model=model, template=template, max_length=max_length,
                           timeout_s=timeout_s)
    return server_reasoning_judge(address, tokenizer, max_length, model, timeout_s,
                                  {**(reasoning or {}), "protocol": protocol})


def server_reasoning_judge(address, tokenizer, max_length, model, timeout_s, reasoning: dict):
    from dataclasses import asdict

    from ..options import from_dict
    from ..scoring.protocols import ReasoningOptions, judge_kwargs
    from ..scoring.reasoning import ReasoningJudge
    from ..scoring.vllm_server import ServerEngine

    options = judge_kwargs(asdict(from_dict(ReasoningOptions, reasoning, "gram's verl reward: reward_kwargs.reasoning")))
    engine = ServerEngine(address, tokenizer, model=model, timeout_s=timeout_s)
    # batch_size: a group's blocking rank sends all its rationales at once; the servers batch them
    return ReasoningJudge.reading(options.pop("protocol"), None, tokenizer, engine=engine, max_length=max_length,
                                       batch_size=4096, **options)
