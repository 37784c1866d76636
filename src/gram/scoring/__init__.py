"""Scoring pairs and lists with a judge: the `Scorer` protocol and its implementations (the generative
GRAM judge, the Bradley-Terry reward model), `load_judge` that picks one for a checkpoint, list-wise
ranking and best-of-n.

    from gram.scoring import load_judge, rank
    judge = load_judge("runs/stage2")
    judge.compare("What is 2+2?", "4", "5").score_a
    rank(judge, "Write a haiku", responses, strategy="knockout").best
"""

from .base import ORDERS, PairScore, Scorer, as_pair, as_pairs, combine, summarize
from .judge import Judge
from .loading import load_judge
from .rank import STRATEGIES, RankResult, rank
from .reward_model import RewardModelJudge

__all__ = ["ORDERS", "STRATEGIES", "Judge", "PairScore", "RankResult", "RewardModelJudge", "Scorer", "as_pair",
           "as_pairs",
           "combine", "load_judge", "rank", "summarize"]
