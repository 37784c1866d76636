"""The discriminative baseline: a Bradley-Terry reward model (a sequence-classification head giving one
scalar per response), scored pairwise like the GRAM judge.

For a pair, P(a better) = sigmoid(r_a - r_b); the model reads each response on its own, so order does not
matter: p_a_ab = P(a better), p_a_ba = P(b better) = 1 - p_a_ab, and every pair is position-consistent.

    judge = RewardModelJudge.load("runs/bt")      # or gram.load_judge, which picks the kind
    judge.compare("What is 2+2?", "4", "5").score_a
"""

from __future__ import annotations

import torch

from ..model import backbone
from ..model.batching import default_batch_tokens, left_pad, length_batches, safe_pad_id
from ..templates import encode_response
from .base import CompareOne, PairScore, as_pairs, check_finite, check_orders


class RewardModelJudge(CompareOne):
    def __init__(self, model, tokenizer, max_length: int | None = 2048, batch_size: int = 8,
                 max_batch_tokens: int | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.max_batch_tokens = default_batch_tokens(next(model.parameters()).device, max_batch_tokens)

    @property
    def device(self):
        return next(self.model.parameters()).device

    @classmethod
    def load(cls, name: str, device=None, dtype=None, **kwargs) -> RewardModelJudge:
        model, tokenizer = backbone.load(name, device=device, dtype=dtype, kind="reward")
        return cls(model, tokenizer, **kwargs)

    @torch.inference_mode()
    def rewards(self, sequences: list[list[int]], rows_per_batch: int) -> list[float]:
        pad_id = safe_pad_id(self.tokenizer, sequences)
        self.model.config.pad_token_id = pad_id
        device = next(self.model.parameters()).device
        out = [0.0] * len(sequences)
        for idx in length_batches([len(s) for s in sequences], rows_per_batch, self.max_batch_tokens):
            ids, mask, positions = left_pad([sequences[i] for i in idx], pad_id)
            logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device),
                                position_ids=positions.to(device)).logits
            for i, r in zip(idx, logits[:, 0].float().tolist()):
                out[i] = r
        return out

    def compare_many(self, pairs, orders: str = "both", batch_size: int | None = None, progress=None) -> list[PairScore]:
        check_orders(orders)
        pairs = as_pairs(pairs)
        sequences, truncated = [], []
        for p in pairs:
            for response in (p.response_a, p.response_b):
                ids, cut = encode_response(self.tokenizer, p.prompt, response, self.max_length)
                sequences.append(ids)
                truncated.append(cut)
        r = self.rewards(sequences, batch_size or self.batch_size)
        check_finite(pairs, r, 2)
        if progress is not None:
            progress.update(len(pairs))
        scores = []
        for i in range(len(pairs)):
            p_a = torch.sigmoid(torch.tensor(r[2 * i] - r[2 * i + 1])).item()
            scores.append(PairScore(p_a, 1.0 - p_a, p_a, None if orders == "ab" else 1.0 - p_a,
                                    truncated[2 * i] or truncated[2 * i + 1]))
        return scores
