"""One entry point from a model name to the scorer it needs.

    judge = load_judge("runs/stage2")     # a causal LM: the generative GRAM judge
    judge = load_judge("runs/bt")         # a sequence-classification checkpoint: the Bradley-Terry judge
"""

from __future__ import annotations

from .. import backbone
from .base import Scorer
from .judge import Judge
from .reward_model import RewardModelJudge


def load_judge(name: str = backbone.DEFAULT_MODEL, device=None, dtype=None, *, max_length: int | None = 2048,
               batch_size: int = 8, max_batch_tokens: int | None = None, template: str = "gram",
               reuse_prefix: bool = True) -> Scorer:
    """The scorer for a model name, by its architecture. `template` and `reuse_prefix` are the generative
    judge's (a reward model reads each response on its own, with no judge prompt)."""
    common = {"max_length": max_length, "batch_size": batch_size, "max_batch_tokens": max_batch_tokens}
    if backbone.is_reward_model(backbone.resolve(name)):
        return RewardModelJudge.load(name, device=device, dtype=dtype, **common)
    return Judge.load(name, device=device, dtype=dtype, template=template, reuse_prefix=reuse_prefix, **common)
