"""Responses from a policy model: sampled (best-of-n) or greedy (the RLHF reward's reference).

    generate(policy, tokenizer, "Write a haiku", n=4, do_sample=True, temperature=0.8, seed=0)
    generate(policy, tokenizer, prompt)[0]          # the greedy response
"""

from __future__ import annotations

import torch

from .batching import pad_id


@torch.inference_mode()
def generate(policy, tokenizer, prompt, n: int = 1, max_new_tokens: int = 256, do_sample: bool = False,
             temperature: float = 1.0, top_p: float = 1.0, seed: int | None = None) -> list[str]:
    """n responses to a prompt (a string or a conversation), rendered with the policy's chat template;
    the policy is in eval mode while it writes, then back in the mode it was in."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    device = next(policy.parameters()).device
    if seed is not None:
        torch.manual_seed(seed)
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if do_sample else {"do_sample": False}
    was_training = policy.training
    policy.eval()
    try:
        out = policy.generate(**{k: v.to(device) for k, v in inputs.items()}, max_new_tokens=max_new_tokens,
                              num_return_sequences=n, pad_token_id=pad_id(tokenizer), **sampling)
    finally:
        policy.train(was_training)
    start = inputs["input_ids"].shape[1]
    return [tokenizer.decode(row[start:], skip_special_tokens=True) for row in out]
