"""The GRAM loss and the Bradley-Terry loss.

GRAM (Wang et al., ICML 2025), stage 2: cross-entropy over the two candidate label tokens only, with label
smoothing eps. For one example with candidate logits (z_label, z_other) and margin d = z_label - z_other,

    L = -(1 - eps/2) log p_label - (eps/2) log p_other,     p = softmax(z_label, z_other)
      = -log sigmoid(d) + (eps/2) d

because log p_label = log sigmoid(d) and log p_other = log sigmoid(d) - d. So label smoothing is a
Bradley-Terry ranking loss plus a penalty on the margin: dL/dd = -sigmoid(-d) + eps/2, which vanishes at
the optimum margin d* = log((2 - eps) / eps) (2.944 at eps = 0.1); eps = 0 is plain Bradley-Terry.

    loss = gram_loss(logits[:, [id_A, id_B]], labels, label_smoothing=0.1)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gram_loss(candidate_logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.1) -> torch.Tensor:
    """Mean label-smoothed cross-entropy over the candidate tokens.

    candidate_logits: (N, 2) logits of `A` and `B` at the label position; labels: (N,) 0 for A, 1 for B.
    Computed in float32 whatever the model's dtype.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    return F.cross_entropy(candidate_logits.float(), labels, label_smoothing=label_smoothing)


def bradley_terry_loss(reward_chosen: torch.Tensor, reward_rejected: torch.Tensor) -> torch.Tensor:
    """-log sigmoid(r_chosen - r_rejected), mean over the batch: the discriminative reward model's loss."""
    return -F.logsigmoid(reward_chosen.float() - reward_rejected.float()).mean()


def full_vocab_loss(last_logits: torch.Tensor, label_ids: list[int], labels: torch.Tensor) -> torch.Tensor:
    """The ablation of the GRAM loss: plain cross-entropy over the whole vocabulary at the label position,
    the target being the label's token (what ordinary SFT on the judge answer computes).

    last_logits: (N, vocab) at the label position; label_ids: the token ids of `A` and `B`; labels: (N,)."""
    targets = torch.tensor(label_ids, device=labels.device)[labels]
    return F.cross_entropy(last_logits.float(), targets)
