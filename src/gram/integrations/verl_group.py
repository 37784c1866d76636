"""A verl reward manager for group rewards (GRPO): verl's reward loop asks for one rollout's reward at a
time (`run_single`), but a Bradley-Terry reward within a group needs all n rollouts of a prompt. This
manager holds each rollout until its group (verl's `uid`: the rollouts of one prompt) is complete, then
calls the configured reward function once with the group's lists (gram.integrations.verl
`compute_group_score`) and answers every member's call from that one result.

A group is complete at `group_size` members (default: `actor_rollout_ref.rollout.n`), or `group_timeout_s`
after its first member arrived (default 300 s), whichever comes first, with a warning when short: a
validation pass sampling fewer rollouts per prompt than training waits that long once, then scores what
came (a group of one gets 0, so with `val_kwargs.n: 1` every validation reward is 0: validate with another
reward). Every rollout of a group must reach the same manager, so the reward loop must run one worker
(`reward.num_workers: 1`; the manager refuses more); ray runs at most 1000 of that worker's calls at once,
so more rollouts per step than that can hold a group's last members back until its timeout (warned at
start). verl's config:

    reward:
      num_workers: 1
      reward_manager: {source: importlib, name: GroupRewardManager,
                       module: {path: pkg://gram.integrations.verl_group}}
      custom_reward_function: {path: pkg://gram.integrations.verl, name: compute_group_score,
                               reward_kwargs: {gram_url: "http://127.0.0.1:8000"}}
      reward_kwargs: {group_size: 8, group_timeout_s: 300}        # optional (`+reward.reward_kwargs...`)
"""

from __future__ import annotations

import asyncio
import inspect
import logging

from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

RAY_ASYNC_ACTOR_CONCURRENCY = 1000  # ray's default max_concurrency for an async actor (verl's reward worker)
log = logging.getLogger(__name__)


class Group:
    """The rollouts of one prompt gathered so far, the future their rewards arrive on, and its timeout."""

    def __init__(self, loop):
        self.samples: list[dict] = []
        self.rewards = loop.create_future()
        self.closed = False
        self.timeout: asyncio.TimerHandle | None = None


class GroupRewardManager(RewardManagerBase):
    """verl's RewardManagerBase, scoring each `uid` group of rollouts in one call of `compute_score`."""

    def __init__(self, config, tokenizer, compute_score, reward_router_address=None, reward_model_tokenizer=None):
        super().__init__(config, tokenizer, compute_score)
        if compute_score is None or not inspect.iscoroutinefunction(getattr(compute_score, "func", compute_score)):
            raise ValueError("GroupRewardManager needs an async group reward function: set "
                             "reward.custom_reward_function to pkg://gram.integrations.verl, compute_group_score")
        if config.reward.get("num_workers", 1) != 1:
            raise ValueError(f"GroupRewardManager: reward.num_workers is {config.reward.num_workers}; a group's "
                             "rollouts must all reach one worker: set reward.num_workers=1")
        settings = config.reward.get("reward_kwargs", None) or {}
        self.group_size = int(settings.get("group_size") or config.actor_rollout_ref.rollout.n)
        self.group_timeout_s = float(settings.get("group_timeout_s", 300.0))
        self.judge_kwargs = ({"reward_router_address": reward_router_address,
                              "reward_model_tokenizer": reward_model_tokenizer} if reward_router_address else {})
        self.groups: dict[str, Group] = {}
        self.scoring: set[asyncio.Task] = set()
        in_flight = int(config.data.get("train_batch_size") or 0) * self.group_size
        if in_flight > RAY_ASYNC_ACTOR_CONCURRENCY:
            log.warning("GroupRewardManager: %d rollouts per step on one reward worker, which ray runs at most %d "
                        "at a time: groups whose members wait behind others close at group_timeout_s, short",
                        in_flight, RAY_ASYNC_ACTOR_CONCURRENCY)

    async def run_single(self, data) -> dict:
        item = data[-1:][0]  # for multi-sequence outputs, the last sequence (as verl's naive manager)
        uid = item.non_tensor_batch.get("uid")
        if uid is None:
            raise ValueError("GroupRewardManager: the rollout has no 'uid' (verl sets one per prompt); group "
                             "rewards need it")
        sample = await self.sample(item)
        group = self.groups.get(uid)
        if group is None:
            group = self.groups[uid] = Group(asyncio.get_running_loop())
            group.timeout = asyncio.get_running_loop().call_later(self.group_timeout_s, self.close, uid, group)
        index = len(group.samples)
        group.samples.append(sample)
        if len(group.samples) >= self.group_size:
            self.close(uid, group)
        results = await asyncio.shield(group.rewards)
        return {"reward_score": results[index]["score"], "reward_extra_info": dict(results[index])}

    async def sample(self, item) -> dict:
        """One rollout's decoded response and its row's fields."""
        response_ids = item.batch["responses"]
        valid = int(item.batch["attention_mask"][-response_ids.shape[-1]:].sum())
        text = await asyncio.get_running_loop().run_in_executor(
            None, lambda: self.tokenizer.decode(response_ids[:valid], skip_special_tokens=True))
        rows = item.non_tensor_batch
        return {"data_source": rows.get("data_source"), "solution_str": text,
                "ground_truth": (rows.get("reward_model") or {}).get("ground_truth"),
                "extra_info": rows.get("extra_info") or {}}

    def close(self, uid: str, group: Group) -> None:
        """Score a group once: at its last member, or at its timeout."""
        if group.closed:
            return
        group.closed = True
        group.timeout.cancel()
        if self.groups.get(uid) is group:
            del self.groups[uid]
        if len(group.samples) < self.group_size:  # a validation pass of fewer rollouts, or members held up
            log.warning("GroupRewardManager: group %s closed at its timeout with %d of %d rollouts", uid,
                        len(group.samples), self.group_size)
        task = asyncio.get_running_loop().create_task(self.score(group))
        self.scoring.add(task)
        task.add_done_callback(self.scoring.discard)

    async def score(self, group: Group) -> None:
        try:
            results = await self.compute_score(
                data_sources=[s["data_source"] for s in group.samples],
                solution_strs=[s["solution_str"] for s in group.samples],
                ground_truths=[s["ground_truth"] for s in group.samples],
                extra_infos=[s["extra_info"] for s in group.samples], **self.judge_kwargs)
            if len(results) != len(group.samples):
                raise ValueError(f"the group reward function returned {len(results)} results for "
                                 f"{len(group.samples)} rollouts")
            group.rewards.set_result(results)
        except Exception as err:  # every member's call fails with it, none hangs
            group.rewards.set_exception(err)
        finally:
            if not group.rewards.done():  # cancelled (the worker shutting down)
                group.rewards.set_exception(RuntimeError("GroupRewardManager: the group's scoring was cancelled"))
