"""Responses from a policy model: sampled (best-of-n) or greedy (the RLHF reward's reference).

    generate(policy, tokenizer, "Write a haiku", n=4, do_sample=True, temperature=0.8, seed=0)
    generate(policy, tokenizer, prompt)[0]          # the greedy response
"""

from __future__ import annotations

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from .batching import pad_id


class StopWhenLooping(StoppingCriteria):
    """Ends a sequence whose last tokens are one span of `period` tokens repeated back to back, for some
    period up to `max_period`, covering at least `min_tokens` tokens and at least `min_repeats` copies: a
    greedy small model that loops would otherwise write the same line until --max-new-tokens."""

    def __init__(self, max_period: int = 32, min_repeats: int = 4, min_tokens: int = 48):
        self.max_period, self.min_repeats, self.min_tokens = max_period, min_repeats, min_tokens

    def __call__(self, input_ids: torch.LongTensor, scores=None, **kwargs) -> torch.BoolTensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for period in range(1, self.max_period + 1):
            span = max(self.min_tokens, period * self.min_repeats)
            span -= span % period  # whole copies
            if span > input_ids.shape[1]:
                break
            tail = input_ids[:, -span:]
            done |= (tail[:, period:] == tail[:, :-period]).all(dim=1)
        return done


class EveryStep(StoppingCriteria):
    """Calls `callback()` once per generated token (for a progress bar); never stops a sequence."""

    def __init__(self, callback):
        self.callback = callback

    def __call__(self, input_ids: torch.LongTensor, scores=None, **kwargs) -> torch.BoolTensor:
        self.callback()
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


@torch.inference_mode()
def generate(policy, tokenizer, prompt, n: int = 1, max_new_tokens: int = 256, do_sample: bool = False,
             temperature: float = 1.0, top_p: float = 1.0, seed: int | None = None, stop_loops: bool = False,
             on_token=None) -> list[str]:
    """n responses to a prompt (a string or a conversation), rendered with the policy's chat template;
    the policy is in eval mode while it writes, then back in the mode it was in. `stop_loops`: end a
    response once it repeats itself (StopWhenLooping), for the greedy references of RLHF rewards.
    `on_token`: called once per generation step (all n sequences advance together)."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    device = next(policy.parameters()).device
    if seed is not None:
        torch.manual_seed(seed)
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if do_sample else {"do_sample": False}
    criteria = ([StopWhenLooping()] if stop_loops else []) + ([EveryStep(on_token)] if on_token else [])
    was_training = policy.training
    policy.eval()
    try:
        out = policy.generate(**{k: v.to(device) for k, v in inputs.items()}, max_new_tokens=max_new_tokens,
                              num_return_sequences=n, pad_token_id=pad_id(tokenizer), **sampling,
                              stopping_criteria=StoppingCriteriaList(criteria))
    finally:
        policy.train(was_training)
    start = inputs["input_ids"].shape[1]
    return [tokenizer.decode(row[start:], skip_special_tokens=True) for row in out]
