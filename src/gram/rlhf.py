"""GRAM as an RLHF reward: a sampled response scored against a reference response.

As in the GRAM reference (and ReMax), the reference is the policy's greedy response to the prompt:

    reward(x, y) = s(y | x, y_ref) - c,    s = the judge's both-orders score of y in the pair (y, y_ref)

with c = 0.5 when centred (a response as good as the reference gets 0). References are generated once per
prompt and cached (the `max_cached` most recently used; references given up front are never evicted); a
dataset column `reference` (or `references=` here) supplies them instead.

GramReward is a callable with TRL's reward-function signature, for GRPOTrainer and RLOOTrainer:

    reward = GramReward(load_judge("runs/stage2"), policy=policy_model, tokenizer=policy_tokenizer)
    trainer = GRPOTrainer(model=policy_model, reward_funcs=[reward], args=GRPOConfig(...), train_dataset=prompts)

For PPO-style trainers that want one scalar per (prompt, response), call `reward.score(prompts, responses)`.
"""

from __future__ import annotations

from collections import OrderedDict

from .generation import generate
from .records import prompt_key


def _text(completion) -> str:
    """A completion as text: TRL passes strings, or (conversational data) a list of messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return completion[-1].get("content", "")
    raise TypeError(f"a completion must be a string or a list of messages, got {type(completion).__name__}")


class GramReward:
    __name__ = "gram_reward"  # TRL names reward columns after the callable

    def __init__(self, judge, policy=None, tokenizer=None, references: dict | None = None, center: bool = True,
                 max_new_tokens: int = 256, max_cached: int | None = None):
        self.judge = judge
        self.policy = policy
        self.tokenizer = tokenizer
        self.center = center
        self.max_new_tokens = max_new_tokens
        self.max_cached = max_cached
        self.given = {prompt_key(prompt): ref for prompt, ref in (references or {}).items()}
        self.cache: OrderedDict[str, str] = OrderedDict()  # generated references, least recently used first

    def reference(self, prompt) -> str:
        """The policy's greedy response to `prompt`, generated once and cached."""
        key = prompt_key(prompt)
        if key in self.given:
            return self.given[key]
        if key in self.cache:
            self.cache.move_to_end(key)
        else:
            if self.policy is None or self.tokenizer is None:
                raise ValueError("no reference for this prompt: pass policy and tokenizer, references=, or a "
                                 "`reference` column")
            self.cache[key] = generate(self.policy, self.tokenizer, prompt, max_new_tokens=self.max_new_tokens)[0]
            # a long-running server sees unboundedly many prompts; a training run sees its dataset's
            if self.max_cached is not None and len(self.cache) > self.max_cached:
                self.cache.popitem(last=False)
        return self.cache[key]

    def score(self, prompts, responses, references=None) -> list[float]:
        refs = references or [self.reference(p) for p in prompts]
        pairs = [(p, r, ref) for p, r, ref in zip(prompts, responses, refs)]
        shift = 0.5 if self.center else 0.0
        return [s.score_a - shift for s in self.judge.compare_many(pairs)]

    def __call__(self, prompts, completions, reference=None, **kwargs) -> list[float]:
        """TRL's reward-function call: prompts and completions (strings or messages), dataset columns as
        keyword arguments (a `reference` column is used when present)."""
        return self.score(list(prompts), [_text(c) for c in completions], reference)
