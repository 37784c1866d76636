"""Token-level training examples and their collators, for both stages and the Bradley-Terry baseline.

Stage 1 example: {"input_ids", "labels"} with the question's labels set to -100.
Stage 2 example: {"input_ids", "label": 0 for A / 1 for B}; the judge prompt ends where the label goes.
Bradley-Terry example: {"chosen_ids", "rejected_ids"}: the prompt with each response, as a chat.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import torch

from ..formats import read
from ..model.batching import left_pad
from ..records import PreferencePair
from ..templates import encode_judge, encode_pretrain, encode_response

log = logging.getLogger(__name__)
IGNORE = -100


def load_pairs(path: str, limit: int | None = None) -> list[PreferencePair]:
    """Pair rows of a gram JSONL file (response sets are refused: build pairs first)."""
    records = read("gram", path).records
    if limit is not None:
        records = records[:limit]
    sets = [r for r in records if not isinstance(r, PreferencePair)]
    if sets:
        raise ValueError(f"{path}: holds {len(sets)} response sets; build pairs first (gram data pairs)")
    return records


def pretrain_examples(pairs: list[PreferencePair], tokenizer, max_length: int) -> tuple[list[dict], Counter]:
    examples, counts = [], Counter()
    for p in pairs:
        ids, prompt_length, truncated = encode_pretrain(tokenizer, p.prompt, p.response_a, p.response_b, max_length)
        counts["truncated"] += truncated
        examples.append({"input_ids": ids, "labels": [IGNORE] * prompt_length + ids[prompt_length:]})
    counts["examples"] = len(examples)
    return examples, counts


def finetune_examples(pairs: list[PreferencePair], tokenizer, max_length: int, both_orders: bool = True,
                      template: str = "gram") -> tuple[list[dict], Counter]:
    """Labeled pairs as judge prompts; ties and unlabeled pairs are counted and left out."""
    examples, counts = [], Counter()
    for p in pairs:
        if p.label not in ("a", "b"):
            counts[f"skipped: label {p.label}"] += 1
            continue
        orders = [p, p.swapped()] if both_orders else [p]
        for q in orders:
            enc = encode_judge(tokenizer, q.prompt, q.response_a, q.response_b, max_length, template)
            counts["truncated"] += enc.truncated
            examples.append({"input_ids": enc.input_ids, "label": 0 if q.label == "a" else 1})
    counts["examples"] = len(examples)
    return examples, counts


@dataclass
class LeftPadCollator:
    """Stage 2: left padding, so the label position is the last column of every row; position ids skip
    the padding (results then do not depend on what shares the batch).

    With `head` (the judge template's head, `templates.template_head`) and every row starting with it, the
    batch is split: `head_ids` (1, H) once, and each row's rest left-padded, its positions continuing at
    H; the attention mask covers both (H + width, ones over the head). GramTrainer runs the head once and
    lets every row attend to its keys and values: the same gradients as running it in every row (with
    dropout off; with LoRA dropout the head gets one mask instead of B), for B - 1 fewer copies of its
    compute and activations."""

    pad_id: int
    head: tuple[int, ...] | None = None

    def __call__(self, batch: list[dict]) -> dict:
        labels = torch.tensor([b["label"] for b in batch])
        rows = [b["input_ids"] for b in batch]
        h = len(self.head or ())
        if h and all(len(r) > h and tuple(r[:h]) == self.head for r in rows):
            ids, mask, positions = left_pad([r[h:] for r in rows], self.pad_id)
            mask = torch.cat([torch.ones((len(rows), h), dtype=mask.dtype), mask], dim=1)
            return {"head_ids": torch.tensor([self.head]), "input_ids": ids, "attention_mask": mask,
                    "position_ids": positions + h, "labels": labels}
        ids, mask, positions = left_pad(rows, self.pad_id)
        return {"input_ids": ids, "attention_mask": mask, "position_ids": positions, "labels": labels}


@dataclass
class RightPadCollator:
    """Stage 1: right padding; padded positions carry label -100."""

    pad_id: int

    def __call__(self, batch: list[dict]) -> dict:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[row, :n] = torch.tensor(b["input_ids"])
            labels[row, :n] = torch.tensor(b["labels"])
            mask[row, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def bt_examples(pairs: list[PreferencePair], tokenizer, max_length: int) -> tuple[list[dict], Counter]:
    examples, counts = [], Counter()
    for p in pairs:
        if p.label not in ("a", "b"):
            counts[f"skipped: label {p.label}"] += 1
            continue
        chosen, cut_c = encode_response(tokenizer, p.prompt, p.chosen, max_length)
        rejected, cut_r = encode_response(tokenizer, p.prompt, p.rejected, max_length)
        counts["truncated"] += cut_c or cut_r
        examples.append({"chosen_ids": chosen, "rejected_ids": rejected})
    counts["examples"] = len(examples)
    return examples, counts


@dataclass
class PairedCollator:
    """Bradley-Terry: the batch's chosen sequences, then its rejected ones, left-padded together."""

    pad_id: int

    def __call__(self, batch: list[dict]) -> dict:
        ids, mask, positions = left_pad([b["chosen_ids"] for b in batch] + [b["rejected_ids"] for b in batch],
                                        self.pad_id)
        return {"input_ids": ids, "attention_mask": mask, "position_ids": positions}
