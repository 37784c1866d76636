"""Scoring pairs and lists with a judge: the `Scorer` protocol and its implementations (the generative
GRAM judge, the Bradley-Terry reward model), `load_judge` that picks one for a checkpoint, list-wise
ranking and best-of-n's sampling. Names are imported on first use (gram.lazy).

    from gram.scoring import load_judge, rank
    judge = load_judge("runs/stage2")
    judge.compare("What is 2+2?", "4", "5").score_a
    rank(judge, "Write a haiku", responses, strategy="knockout").best
"""

from ..lazy import lazy_exports
from .base import ORDERS, PairScore, Scorer, as_pair, as_pairs, combine, summarize
from .rank import STRATEGIES, RankResult, rank  # light, and eager: the submodule `rank` must not shadow it

_EXPORTS = {"Judge": ".judge", "load_judge": ".loading", "RewardModelJudge": ".reward_model"}  # torch: on use
__all__ = ["ORDERS", "STRATEGIES", "Judge", "PairScore", "RankResult", "RewardModelJudge", "Scorer", "as_pair",
           "as_pairs", "combine", "load_judge", "rank", "summarize"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
