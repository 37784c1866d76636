"""Shared prefixes run once: the keys and values of a prefix (the judge template's head, a prompt's
question) computed in one forward call and reused by every row that continues it.

Exact, not approximate: each row attends to the same keys and values it would have computed itself.
The judge uses it at inference (`gram.scoring.judge`); stage 2 uses it in training, where the head's
keys and values keep their autograd graph so its gradients flow from every row.

    prefix = run_prefix(model, head_ids)                  # (ids, per-layer (k, v))
    prefix = run_prefix(model, question_ids, prefix)      # extended
    outputs = model(input_ids=rest, attention_mask=..., position_ids=... + len(prefix[0]),
                    **{cache_argument(model): expand(prefix[1], rows, model.config)})
"""

from __future__ import annotations

import inspect

import torch

Layers = list[tuple[torch.Tensor, torch.Tensor]]


def inner(model):
    """The model inside a training engine's wrapper (DDP, a DeepSpeed engine, torch.compile), as
    accelerate's unwrap_model finds it: what a forward call runs through the wrapper, and whose config
    says what it is. DeepSpeed is looked for only where it was imported (an engine needs it), so that
    scoring never pays for importing it."""
    import sys

    from torch.nn.parallel import DataParallel, DistributedDataParallel

    deepspeed = sys.modules.get("deepspeed")
    wrappers = (DataParallel, DistributedDataParallel) + ((deepspeed.DeepSpeedEngine,) if deepspeed else ())
    while True:
        if isinstance(model, wrappers):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), torch.nn.Module):  # torch.compile
            model = model._orig_mod
        else:
            return model


def _forward_parameters(model):
    model = inner(model)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inspect.signature(base.forward).parameters


def keeps_logits(model) -> bool:
    """Whether the model's forward takes `logits_to_keep` (project only the last positions)."""
    return "logits_to_keep" in _forward_parameters(model)


def cache_argument(model) -> str | None:
    """The forward argument that takes a key/value cache: `cache` from transformers 5.24 on (where
    `past_key_values` is a deprecated alias), `past_key_values` before; None for a model taking neither.
    A PEFT wrapper passes it through to the model it wraps."""
    parameters = _forward_parameters(model)
    return next((name for name in ("cache", "past_key_values") if name in parameters), None)


def output_cache(outputs):
    """The key/value cache a forward call returned, under either name."""
    cache = outputs.get("cache") if hasattr(outputs, "get") else None
    return cache if cache is not None else outputs.past_key_values


def expand(layers: Layers, rows: int, config=None):
    """A cache holding `layers` (batch 1) for `rows` rows, without copying them."""
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=[(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in layers],
                        config=config)


def run_prefix(model, ids: list[int] | torch.Tensor, prefix: tuple[tuple[int, ...], Layers] | None = None
               ) -> tuple[tuple[int, ...], Layers]:
    """(ids, per-layer (k, v)) of `prefix` followed by `ids`, from one forward call on one row.

    Under torch.no_grad / inference_mode the tensors carry no graph; in training they do, so a loss on
    the rows that continue the prefix back-propagates into it. Raises AttributeError for a cache without
    per-layer keys and values (recurrent, hybrid models)."""
    device = next(model.parameters()).device
    ids_t = ids.to(device) if isinstance(ids, torch.Tensor) else torch.tensor([ids], device=device)
    start = len(prefix[0]) if prefix else 0
    kwargs = {"logits_to_keep": 1} if keeps_logits(model) else {}
    if prefix:
        kwargs[cache_argument(model) or "past_key_values"] = expand(prefix[1], 1, getattr(inner(model), "config", None))
    out = model(input_ids=ids_t, position_ids=torch.arange(start, start + ids_t.shape[1], device=device)[None],
                use_cache=True, **kwargs)
    layers = [(layer.keys, layer.values) for layer in output_cache(out).layers]
    return (tuple(prefix[0]) if prefix else ()) + tuple(ids_t[0].tolist()), layers
