"""The judge's read-out: the logits of the label tokens (A, B) at the last position, in fp32 whatever the
model's dtype.

A bf16 model's logits are bf16: at a label logit of ~10, neighbouring bf16 values are 1/16 apart, so
P(A) = sigmoid(z_A - z_B) takes only the values sigmoid(k/16) and nearby judgements tie exactly (a 4-step
fine-tuned judge scored 6 of 8 pairs 0.5 / 0.5 that fp32 told apart). Here the body still runs in its
own dtype, and only the last step is upcast:

    z_t = h_last . W_t (+ b_t)        h_last, W_t and b_t in fp32, for the label tokens t only

h_last: the final hidden state at the last position (the LM head's input, captured by a hook); W_t: the
LM head's rows of the label tokens. Two dot products per row: negligible beside the forward pass. A head
that is not a plain linear layer (a LoRA-wrapped head), one whose weights are partitioned away (ZeRO-3)
or a model that transforms its logits after the head (soft-capping, logit scales) reads the model's own
logits, upcast. (The body's own bf16 rounding can still tie two orders whose last hidden states are the
same vector: rare, where bf16 logits tied a quarter of the pairs.)
"""

from __future__ import annotations

import torch

LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "lm_head_multiplier")  # configs that post-process


def plain_head(model) -> torch.nn.Linear | None:
    """The model's LM head where its logits are just the head's output, else None."""
    head = model.get_output_embeddings()
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    if type(head) is not torch.nn.Linear or any(getattr(config, k, None) for k in LOGIT_TRANSFORMS):
        return None
    if head.weight.numel() == 0:  # partitioned outside the forward pass (DeepSpeed ZeRO-3): the model's own
        return None
    return head


def label_logits(model, token_ids: list[int], **forward) -> torch.Tensor:
    """(rows, len(token_ids)) fp32 logits of `token_ids` at the last position of `model(**forward)`."""
    head = plain_head(model)
    if head is None:
        return model(**forward).logits[:, -1, token_ids].float()
    seen = []
    hook = head.register_forward_hook(lambda module, args, output: args and seen.append(args[0][:, -1]))
    try:
        out = model(**forward)
    finally:
        hook.remove()
    if not seen:  # a forward that never called its head as a module
        return out.logits[:, -1, token_ids].float()
    z = seen[-1].float() @ head.weight[token_ids].float().T
    return z + head.bias[token_ids].float() if head.bias is not None else z
