"""Training only the upper blocks: `--freeze-layers N` freezes the first N decoder blocks and the input side
of the embeddings. They get no gradient and no optimizer state, and the backward pass stops above them,
so a step costs the forward pass plus the backward of the top L - N blocks.

With tied input and output embeddings (SmolLM2), the shared matrix still learns from the LM head (the
label logits); what is dropped is only the gradient that would reach it through the frozen blocks (a
forward hook detaches the embedding output).
"""

from __future__ import annotations


def decoder_blocks(model):
    """The transformer blocks of a causal LM or a sequence-classification model (Llama, Qwen, Mistral, ...)."""
    base = getattr(model, "model", None) or getattr(model, "base_model", None)
    blocks = getattr(base, "layers", None)
    if blocks is None:
        raise ValueError(f"cannot find the decoder blocks of {type(model).__name__} (expected model.model.layers)")
    return blocks


def freeze_lower_layers(model, n: int) -> dict:
    """Freeze the first n blocks and the input embeddings (see the module docstring); returns what is trained."""
    blocks = decoder_blocks(model)
    if not 0 < n < len(blocks):
        raise ValueError(f"--freeze-layers {n}: the model has {len(blocks)} blocks; freeze between 1 and "
                         f"{len(blocks) - 1}")
    for block in blocks[:n]:
        block.requires_grad_(False)
    embeddings = model.get_input_embeddings()
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    tied = head is not None and head.weight is embeddings.weight
    if not tied:
        embeddings.requires_grad_(False)
    embeddings.register_forward_hook(lambda module, inputs, output: output.detach())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"frozen_blocks": n, "blocks": len(blocks), "tied_embeddings": tied, "trainable_parameters": trainable,
            "parameters": total}
