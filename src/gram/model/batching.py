"""Token sequences into padded batches: grouping by length, left padding, and the choice of a pad id.
Shared by scoring and training (the judge's last-position logits and stage 2's label position both need
every row to end in the last column).

    for group in length_batches([len(s) for s in seqs], rows_per_batch=16, max_batch_tokens=2048):
        input_ids, attention_mask, position_ids = left_pad([seqs[i] for i in group], pad_id(tokenizer))
"""

from __future__ import annotations

import torch

# Measured on a 2-core CPU (SmolLM2-135M): batching gains ~20% at 128-256 tokens, nothing at 512, and
# loses ~25% at 1500 with padding, so rows x width is capped on the CPU (none on a GPU).
CPU_BATCH_TOKENS = 2048


def default_batch_tokens(device: torch.device, max_batch_tokens: int | None) -> int | None:
    """`max_batch_tokens` as given, else the CPU cap on a CPU and none elsewhere."""
    if max_batch_tokens is None and device.type == "cpu":
        return CPU_BATCH_TOKENS
    return max_batch_tokens


def length_batches(lengths: list[int], rows_per_batch: int, max_batch_tokens: int | None) -> list[list[int]]:
    """Indices grouped longest first, at most `rows_per_batch` rows and `max_batch_tokens` padded tokens
    (a sequence longer than the budget goes alone)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    for i in order:
        group = groups[-1] if groups else None
        if (group is None or len(group) >= rows_per_batch
                or (max_batch_tokens and (len(group) + 1) * lengths[group[0]] > max_batch_tokens)):
            groups.append([i])
        else:
            group.append(i)
    return groups


def left_pad(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask, position_ids), each (rows, longest): every row ends in the last
    column, and position ids count real tokens only, so padding changes no row's result."""
    width = max(len(seq) for seq in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, width - len(seq):] = torch.tensor(seq)
        mask[row, width - len(seq):] = 1
    return input_ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)


def pad_id(tokenizer) -> int:
    """The tokenizer's pad id, else its end-of-sequence id, else 0 (any id works where padded positions
    are masked out). An id of 0 is a real id: tested with `is None`, never with `or`."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return candidate
    return 0


def safe_pad_id(tokenizer, sequences: list[list[int]]) -> int:
    """A padding id that ends no sequence: a sequence-classification head pools the last non-pad token,
    and a template whose turns end in the pad token (pad = eos is common) would shift it."""
    last = {seq[-1] for seq in sequences if seq}
    for candidate in (tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.bos_token_id, 0, 1):
        if candidate is not None and candidate not in last:
            return candidate
    raise ValueError("no token id found that ends none of the sequences, for padding")
