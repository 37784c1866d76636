"""The training stages as a table: what each trains, from which examples, with which collator, trainer
and loss.

    pretrain   stage 1: next-token loss on the response pair, the question masked (unlabeled pairs)
    finetune   stage 2: the GRAM loss at the label position (labeled pairs, both orders by default)
    adapt      stage 2 again from a GRAM checkpoint on a small task set
    bt         the baseline: a Bradley-Terry reward model (sequence-classification head)
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ..model.batching import pad_id, safe_pad_id
from ..records import PreferencePair
from ..templates import label_token_ids, template_head
from .examples import (
    LeftPadCollator,
    PairedCollator,
    RightPadCollator,
    bt_examples,
    finetune_examples,
    pretrain_examples,
)
from .engines import Engine
from .trainers import BTTrainer, GramTrainer, LengthGroupedTrainer

log = logging.getLogger("gram.train")


@dataclass
class Prepared:
    examples: list[dict]
    counts: Counter
    collator: object
    trainer_cls: type = LengthGroupedTrainer
    trainer_kwargs: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)  # what the run summary says of how the stage ran


def prepare_pretrain(pairs: list[PreferencePair], tokenizer, model, config, engine: Engine) -> Prepared:
    examples, counts = pretrain_examples(pairs, tokenizer, config.max_length)
    return Prepared(examples, counts, RightPadCollator(pad_id(tokenizer)))


def prepare_finetune(pairs: list[PreferencePair], tokenizer, model, config, engine: Engine) -> Prepared:
    examples, counts = finetune_examples(pairs, tokenizer, config.max_length, config.both_orders, config.template)
    # the shared template head: not with activation checkpointing, which runs without a cache, nor on an
    # engine whose sharded layers cannot run twice before a backward
    why_not = ("--gradient-checkpointing" if config.gradient_checkpointing
               else None if engine.shares_template_head else engine.name)
    if why_not and not config.gradient_checkpointing:
        log.warning("the judge template's head runs in every row under %s (shared once per batch elsewhere)", why_not)
    head = None if why_not else tuple(template_head(tokenizer, config.template))
    return Prepared(examples, counts, LeftPadCollator(pad_id(tokenizer), head or None), GramTrainer,
                    {"label_ids": label_token_ids(tokenizer), "label_smoothing": config.label_smoothing,
                     "loss_type": config.loss},
                    {"shared_template_head": bool(head) or f"off: {why_not}"})


def prepare_bt(pairs: list[PreferencePair], tokenizer, model, config, engine: Engine) -> Prepared:
    examples, counts = bt_examples(pairs, tokenizer, config.max_length)
    pad = safe_pad_id(tokenizer, [e[k] for e in examples for k in ("chosen_ids", "rejected_ids")])
    model.config.pad_token_id = pad  # the head pools the last token that is not padding
    return Prepared(examples, counts, PairedCollator(pad), BTTrainer)


@dataclass(frozen=True)
class Stage:
    name: str
    description: str  # for the model card
    prepare: Callable[..., Prepared]
    reward_head: bool = False  # a sequence-classification head instead of the LM head
    labeled: bool = True  # trains on preference labels (an --eval-file can be scored after it)


STAGES = {s.name: s for s in [
    Stage("pretrain", "GRAM stage 1 (unsupervised pre-training on unlabeled response pairs)", prepare_pretrain,
          labeled=False),
    Stage("finetune", "GRAM stage 2 (supervised fine-tuning with the label-smoothed GRAM loss)", prepare_finetune),
    Stage("adapt", "GRAM task adaptation (stage 2 again on task pairs)", prepare_finetune),
    Stage("bt", "Bradley-Terry reward model (sequence-classification head), the discriminative baseline",
          prepare_bt, reward_head=True),
]}
