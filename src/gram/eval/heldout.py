"""The held-out check at the end of a training run (`--eval-file`): accuracy and position consistency of
the freshly trained model on labeled pairs, both orders, for the summary and the model card.

Training calls it through the `evaluate` hook of gram.train.run.run (the training room imports nothing
from scoring): the `gram` training commands pass `evaluate_trained`.
"""

from __future__ import annotations

import logging

from ..formats import read
from ..records import PreferencePair
from ..scoring import Judge, RewardModelJudge
from .metrics import summarize_scores

log = logging.getLogger(__name__)


def evaluate_trained(model, tokenizer, config, reward_model: bool = False) -> dict:
    """Accuracy (the preferred response scored above the other: gram.eval.metrics, ties wrong) and position
    consistency on config.eval_file's pairs labeled a or b."""
    records = read("gram", config.eval_file).records
    if config.eval_limit is not None:
        records = records[:config.eval_limit]
    pairs = [p for p in records if isinstance(p, PreferencePair) and p.label in ("a", "b")]
    was_training = model.training
    judge = (RewardModelJudge(model, tokenizer, max_length=config.max_length) if reward_model
             else Judge(model, tokenizer, max_length=config.max_length, template=config.template))
    scores = judge.compare_many(pairs)
    model.train(was_training)
    summary = summarize_scores(pairs, scores)
    out = {"eval_file": config.eval_file, "pairs": len(pairs), "accuracy": summary["overall"],
           "position_consistency": summary["position_consistency"]}
    log.warning("eval on %s: accuracy %.3f over %d pairs", config.eval_file, out["accuracy"] or 0, len(pairs))
    return out
