"""Scoring pairs and lists with a judge: the `Scorer` protocol and its implementations (the generative
GRAM judge, the Bradley-Terry reward model), `load_judge` that picks one for a checkpoint, list-wise
ranking and best-of-n's sampling. Names are imported on first use (gram.lazy).

    from gram.scoring import load_judge, rank
    judge = load_judge("runs/stage2")
    judge.compare("What is 2+2?", "4", "5").score_a
    rank(judge, "Write a haiku", responses, strategy="knockout").best
"""

from ..lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("ORDERS", "PairScore", "Scorer", "as_pair", "as_pairs", "combine", "summarize"), ".base"),
    "Judge": ".judge", "load_judge": ".loading", "RewardModelJudge": ".reward_model",
    **dict.fromkeys(("STRATEGIES", "RankResult", "rank"), ".rank"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
