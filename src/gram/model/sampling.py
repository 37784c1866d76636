"""Continuations of many prompts at once, each row drawn from its own seed: a row's tokens do not depend on
the rows it shares a batch with (the reasoning judges' rationales, gram.scoring.reasoning).

Batched on the KV cache, left-padded (position ids count real tokens), one forward per step for the whole
batch; a row stops at an end token or after `max_new_tokens`. Sampling per row:

    p = softmax(z / T), cut to the smallest top set of mass >= top_p, token ~ p with the row's generator

and greedy (argmax) at T = 0.

    ids = sample(model, [prompt_ids], seeds=[7], max_new_tokens=256, temperature=0.75, stop_ids={eos})
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .batching import left_pad
from .kv_prefix import cache_argument, keeps_logits, output_cache


def choose(logits: torch.Tensor, generators: list[torch.Generator], temperature: float, top_p: float) -> list[int]:
    """One token per row of (rows, vocab) fp32 logits."""
    if temperature <= 0:
        return logits.argmax(-1).tolist()
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        ordered, order = probs.sort(dim=-1, descending=True)
        keep = ordered.cumsum(-1) - ordered < top_p  # the top set reaching top_p (its first token always)
        probs = torch.zeros_like(probs).scatter(-1, order, ordered * keep)
    return [int(torch.multinomial(p, 1, generator=g)) for p, g in zip(probs, generators)]


@torch.inference_mode()
def sample(model, prompts: list[list[int]], seeds: list[int], max_new_tokens: int, temperature: float = 0.0,
           top_p: float = 1.0, stop_ids: set[int] = frozenset(), pad_id: int = 0,
           on_step: Callable[[], None] | None = None) -> list[list[int]]:
    """The new tokens of each prompt (a row's stop token included)."""
    device = next(model.parameters()).device
    ids, mask, positions = (t.to(device) for t in left_pad(prompts, pad_id))
    generators = [torch.Generator(device=device).manual_seed(int(s) % 2**63) for s in seeds]
    extra = {"logits_to_keep": 1} if keeps_logits(model) else {}
    cache_name, cache = cache_argument(model) or "past_key_values", None
    out, done = [[] for _ in prompts], [False] * len(prompts)
    for _ in range(max_new_tokens):
        result = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                       **({cache_name: cache} if cache is not None else {}), **extra)
        cache = output_cache(result)
        tokens = choose(result.logits[:, -1].float(), generators, temperature, top_p)
        for row, token in enumerate(tokens):
            if not done[row]:
                out[row].append(token)
                done[row] = token in stop_ids
        if on_step:
            on_step()
        if all(done):
            break
        ids = torch.tensor(tokens, device=device)[:, None]
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        positions = positions[:, -1:] + 1
    return out
