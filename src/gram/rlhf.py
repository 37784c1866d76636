"""GRAM as an RLHF reward: a sampled response scored against a reference response.

As in the GRAM reference (its README's PPO recipe, after ReMax), the reference is the current policy's
greedy response to the prompt:

    reward(x, y) = s(y | x, y_ref) - c,    s = the judge's both-orders score of y in the pair (y, y_ref)

with c = 0.5 when centred (a response as good as the reference gets 0). The reference follows the
policy: by default (refresh="step") the greedy references are written anew at each training step (once
per prompt within a step), so the reward keeps measuring "better than what the policy says now".
refresh="never" writes each prompt's reference once and caches it (the `max_cached` most recently used),
which is cheaper and what a server with a fixed policy wants. References given up front
(`references=`, or a dataset column `reference`) are used as they are.

GramReward is a callable with TRL's reward-function signature, for GRPOTrainer and RLOOTrainer, which
pass their `trainer_state` to it: that is the per-step hook.

    reward = GramReward(load_judge("runs/stage2"), policy=policy_model, tokenizer=policy_tokenizer)
    trainer = GRPOTrainer(model=policy_model, reward_funcs=[reward], args=GRPOConfig(...), train_dataset=prompts)

For a trainer that does not pass its state, add `reward.callback()` to its callbacks; in a PPO loop of
your own, call `reward.score(prompts, responses, step=step)`.

mode="group" (GRPO's groups of n completions per prompt) needs no reference: each completion's reward is
its Bradley-Terry log-strength among its prompt's completions, fitted to all n(n-1)/2 pairwise judgements
of the group (gram.scoring.rank's round-robin, both orders), centred per group:

    reward_i = log pi_i - mean_j log pi_j,    P(i beats j) = pi_i / (pi_i + pi_j)

Cost per group of n: "reference" n comparisons plus one greedy generation per prompt; "group"
n(n-1)/2 comparisons (n = 4: 4 and 6; n = 8: 8 and 28), each comparison two forward passes.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from .errors import Abandoned
from .model.generation import generate
from .records import prompt_key
from .scoring.rank import rank

MODES = ("reference", "group")


def _text(completion) -> str:
    """A completion as text: TRL passes strings, or (conversational data) a list of messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return completion[-1].get("content", "")
    raise TypeError(f"a completion must be a string or a list of messages, got {type(completion).__name__}")


def stopper(should_stop):
    """generate's per-token hook: raise Abandoned once `should_stop()` says so (None: never)."""
    if should_stop is None:
        return None

    def check():
        if should_stop():
            raise Abandoned("the policy's reference was abandoned: its request left or passed its deadline")
    return check


def check_lengths(prompts, responses, references=None) -> None:
    """One prompt per response (and one reference each, where given, none of them empty): a length
    mismatch would otherwise score a truncated zip, one reward short with nothing said."""
    if len(prompts) != len(responses) or (references is not None and len(references) != len(responses)):
        given = "" if references is None else f", {len(references)} references"
        raise ValueError(f"{len(prompts)} prompts, {len(responses)} responses{given}: one of each per reward")
    if references is not None and any(not isinstance(r, str) or not r for r in references):
        raise ValueError("an empty or non-string reference: pass None (no references) for the policy's greedy "
                         "responses, or a reference text for every prompt")


class GramReward:
    __name__ = "gram_reward"  # TRL names reward columns after the callable

    def __init__(self, judge, policy=None, tokenizer=None, references: dict | None = None, center: bool = True,
                 max_new_tokens: int = 256, max_cached: int | None = None, refresh: str = "step",
                 mode: str = "reference"):
        if refresh not in ("step", "never"):
            raise ValueError(f"refresh must be 'step' or 'never', not {refresh!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self.refresh = refresh
        self.step = None  # the training step the cached references were written at
        self.judge = judge
        self.policy = policy
        self.tokenizer = tokenizer
        self.center = center
        self.max_new_tokens = max_new_tokens
        self.max_cached = max_cached
        self.given = {prompt_key(prompt): ref for prompt, ref in (references or {}).items()}
        self.cache: OrderedDict[str, str] = OrderedDict()  # generated references, least recently used first

    def new_step(self, step=None) -> None:
        """The per-step hook: with refresh="step", a step other than the last one drops the generated
        references, so the next ones come from the policy as it is now. (`step` None: always a new step.)"""
        if self.refresh == "step" and (step is None or step != self.step):
            self.cache.clear()
        self.step = step

    def callback(self):
        """A transformers TrainerCallback calling new_step at the start of every optimizer step, for
        trainers that do not pass their state to reward functions."""
        from transformers import TrainerCallback

        reward = self

        class RefreshReferences(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                reward.new_step(state.global_step)

        return RefreshReferences()

    def reference(self, prompt, should_stop=None) -> str:
        """The policy's greedy response to `prompt`, generated once per step (refresh="step") or once
        (refresh="never") and cached. `should_stop()`, asked at every token, ends the generation with
        Abandoned (a server's request that left or passed its deadline)."""
        key = prompt_key(prompt)
        if key in self.given:
            return self.given[key]
        if key in self.cache:
            self.cache.move_to_end(key)
        else:
            if self.policy is None or self.tokenizer is None:
                raise ValueError("no reference for this prompt: pass policy and tokenizer, references=, or a "
                                 "`reference` column")
            self.cache[key] = generate(self.policy, self.tokenizer, prompt, max_new_tokens=self.max_new_tokens,
                                       stop_loops=True, on_token=stopper(should_stop))[0]
            # a long-running server sees unboundedly many prompts; a training run sees its dataset's
            if self.max_cached is not None and len(self.cache) > self.max_cached:
                self.cache.popitem(last=False)
        return self.cache[key]

    def score(self, prompts, responses, references=None, step=None) -> list[float]:
        """One reward per (prompt, response). `step`: the training step, for the per-step refresh."""
        if self.mode == "group":
            return self.group_scores(prompts, responses)
        check_lengths(prompts, responses, references)
        if step is not None:
            self.new_step(step)
        refs = references or [self.reference(p) for p in prompts]
        pairs = [(p, r, ref) for p, r, ref in zip(prompts, responses, refs, strict=True)]
        shift = 0.5 if self.center else 0.0
        return [s.score_a - shift for s in self.judge.compare_many(pairs)]

    def group_scores(self, prompts, responses) -> list[float]:
        """mode="group" (module docstring): each response's centred Bradley-Terry log-strength among the
        responses to the same prompt; a prompt with one response gets 0."""
        check_lengths(prompts, responses)
        groups: dict[str, list[int]] = {}
        for i, prompt in enumerate(prompts):
            groups.setdefault(prompt_key(prompt), []).append(i)
        rewards = [0.0] * len(prompts)
        for members in groups.values():
            if len(members) < 2:
                continue
            result = rank(self.judge, prompts[members[0]], [responses[i] for i in members], "round-robin")
            for i, strength in zip(members, result.scores):  # log-strengths, normalised to mean 0
                rewards[i] = strength
        return rewards

    def __call__(self, prompts, completions, reference=None, trainer_state=None, **kwargs) -> list[float]:
        """TRL's reward-function call: prompts and completions (strings or messages), dataset columns as
        keyword arguments (a `reference` column is used when present), and the trainer's state, whose
        global_step drives the per-step refresh."""
        step = getattr(trainer_state, "global_step", None)
        return self.score(list(prompts), [_text(c) for c in completions], reference, step=step)


class AsyncGramReward(GramReward):
    """GramReward as an async reward function (TRL runs async reward functions together on its event loop,
    `asyncio.gather`): the judge runs in a worker thread, so other async rewards of the same batch (a
    remote verifier, an HTTP judge) proceed while it works. Same arguments, same rewards."""

    async def __call__(self, prompts, completions, reference=None, trainer_state=None, **kwargs) -> list[float]:
        return await asyncio.to_thread(GramReward.__call__, self, prompts, completions, reference, trainer_state,
                                       **kwargs)
