"""The generative judge: P(A) from the two label logits at the last position, in both orders.

For a pair (a, b) the model reads the judge prompt with a first, then with b first; with z = (z_A, z_B)
the label-token logits at the last position, p_a_ab = softmax(z | a first)[A], p_a_ba = softmax(z | b
first)[A], and score_a = (p_a_ab + 1 - p_a_ba) / 2 (gram.scoring.base). (The reference demo normalises
the softmax over the wrong axis; here it is over the two labels of one sequence.)

    judge = Judge.load("smollm2-135m")
    judge.compare("What is 2+2?", "4", "5").score_a
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from ..model import backbone
from ..model.batching import default_batch_tokens, left_pad, length_batches, pad_id
from ..model.kv_prefix import cache_argument, expand, keeps_logits, run_prefix
from ..model.readout import label_logits
from ..records import Pair, prompt_key
from ..templates import (
    encode_judge,
    judge_template,
    label_token_ids,
    template_head,
    trained_template,
)
from .base import CompareOne, PairScore, as_pairs, check_orders, pair_scores


def context_length(model) -> int | None:
    """The positions a model was built for (config.max_position_embeddings), or None if it does not say."""
    n = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return n if isinstance(n, int) and n > 0 else None


def encode_orders(tokenizer, pairs: list[Pair], orders: str, max_length: int | None, template: str):
    """The token ids the judge reads for each pair: (a, b), then (b, a) with orders "both"; whether each
    pair was shortened; and the sequences of each prompt (they share its question). Every engine reads
    these same ids."""
    sequences, truncated, groups = [], [], {}
    for p in pairs:
        groups.setdefault(prompt_key(p.prompt), []).append(len(sequences))
        ab = encode_judge(tokenizer, p.prompt, p.response_a, p.response_b, max_length, template)
        sequences.append(ab.input_ids)
        cut = ab.truncated
        if orders == "both":
            ba = encode_judge(tokenizer, p.prompt, p.response_b, p.response_a, max_length, template)
            groups[prompt_key(p.prompt)].append(len(sequences))
            sequences.append(ba.input_ids)
            cut = cut or ba.truncated
        truncated.append(cut)
    return sequences, truncated, list(groups.values())


class Judge(CompareOne):
    """A causal LM used as a pairwise judge. Loads once; scores any number of pairs in batches."""

    def __init__(self, model, tokenizer, max_length: int | None = 2048, batch_size: int = 8,
                 template: str | None = None, max_batch_tokens: int | None = None, reuse_prefix: bool = True):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.label_ids = list(label_token_ids(tokenizer))
        # None: no truncation below the model's context; a pair over the context is shortened to it
        self.max_length = max_length if max_length is not None else context_length(model)
        self.batch_size = batch_size
        self.template = judge_template(template)
        self.pad_id = pad_id(tokenizer)  # any id works: padded positions are masked out
        self._keep_kwarg = keeps_logits(model)
        self.max_batch_tokens = default_batch_tokens(self.device, max_batch_tokens)
        # Sliding-window caches do not extend a shared prefix the same way (recurrent ones are caught when
        # the head is first run): a full forward there.
        config = getattr(model, "config", None)
        self._cache_kwarg = cache_argument(model)
        self.reuse_prefix = reuse_prefix and getattr(config, "sliding_window", None) in (None, 0) \
            and self._cache_kwarg is not None
        self._template_prefix: tuple[tuple[int, ...], list] | None = None  # (ids, per-layer (k, v))

    @classmethod
    def load(cls, name: str = backbone.DEFAULT_MODEL, device=None, dtype=None, **kwargs):
        """The generative judge of a causal-LM checkpoint (`gram.load_judge` picks the kind of judge a
        checkpoint needs). A sequence-classification checkpoint is refused: read as a causal LM, its new
        LM head would judge at random."""
        if backbone.is_reward_model(backbone.resolve(name)):
            raise backbone.BackboneError(f"{name} is a Bradley-Terry reward model, not a generative judge: load "
                                         "it with gram.load_judge (or RewardModelJudge.load)")
        model, tokenizer = backbone.load(name, device=device, dtype=dtype)
        if kwargs.get("template") is None:
            kwargs["template"] = trained_template(backbone.resolve(name))
        return cls(model, tokenizer, **kwargs)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def compare_many(self, pairs: Iterable[Pair | Sequence], orders: str = "both", batch_size: int | None = None,
                     progress=None) -> list[PairScore]:
        """Scores for many pairs, in input order. `progress`: a tqdm-like bar advanced per pair."""
        check_orders(orders)
        pairs = as_pairs(pairs)
        sequences, truncated, groups = encode_orders(self.tokenizer, pairs, orders, self.max_length, self.template)
        per_pair = 2 if orders == "both" else 1
        rows = (batch_size or self.batch_size) * per_pair
        p_a = self.label_probs(sequences, rows, progress=progress, per_pair=per_pair, groups=groups)
        return pair_scores(pairs, p_a, truncated, per_pair)

    @torch.inference_mode()
    def label_probs(self, sequences: list[list[int]], rows_per_batch: int, progress=None,
                    per_pair: int = 1, groups: list[list[int]] | None = None) -> list[float]:
        """P(A) over {A, B} at the last position of each token sequence.

        Sequences are batched longest first by length (little padding), left-padded so that the last
        position is every row's own last token, with position ids that skip the padding. A batch holds at
        most `rows_per_batch` rows and, where set, `max_batch_tokens` tokens with padding.

        With `reuse_prefix`, shared prefixes are run once and their keys and values reused (exact: the
        same attention over the same keys): the judge template's head (chat-template preamble and
        instructions, the same for every pair, kept across calls), then, within each of `groups` (the
        sequences of one prompt: both orders, every pair of a ranking), the question.
        """
        out = [0.0] * len(sequences)
        head = self._template_head() if self.reuse_prefix else None
        n = len(head[0]) if head else 0
        fits = [i for i, seq in enumerate(sequences) if head and len(seq) > n and tuple(seq[:n]) == head[0]]
        fitting = set(fits)
        self._run(sequences, [i for i in range(len(sequences)) if i not in fitting], rows_per_batch, None, out,
                  progress, per_pair)
        if not fits:
            return out
        pool = []
        for group in groups or [[i] for i in range(len(sequences))]:
            members = [i for i in group if i in fitting]
            if not members:
                continue
            seqs = [sequences[i] for i in members]
            extra = min(_common_prefix_length(seqs), min(map(len, seqs)) - 1) - n
            # A group runs as its own small batch. On a CPU that costs little (batching gains ~20% at
            # best there); on a GPU it pays only for the larger groups of a ranking.
            big_enough = len(members) > 1 if self.device.type == "cpu" else len(members) >= GPU_MIN_GROUP
            if big_enough and extra >= MIN_PREFIX:
                cache = self._extend(head, seqs[0][n:n + extra])
                self._run(sequences, members, rows_per_batch, cache, out, progress, per_pair)
            else:
                pool.extend(members)
        self._run(sequences, pool, rows_per_batch, head, out, progress, per_pair)
        return out

    def _run(self, sequences, idx: list[int], rows_per_batch: int, prefix, out: list, progress, per_pair) -> None:
        """Score sequences `idx`, each continuing `prefix` ((ids, per-layer (k, v)) or None)."""
        skip = len(prefix[0]) if prefix else 0
        rest = [sequences[i][skip:] for i in idx]
        for batch in length_batches([len(r) + skip for r in rest], rows_per_batch, self.max_batch_tokens):
            input_ids, mask, positions = left_pad([rest[j] for j in batch], self.pad_id)
            kwargs = {"logits_to_keep": 1} if self._keep_kwarg else {}
            if prefix:
                mask = torch.cat([torch.ones((len(batch), skip), dtype=mask.dtype), mask], dim=1)
                positions = positions + skip
                kwargs[self._cache_kwarg] = expand(prefix[1], len(batch), self.model.config)
            device = self.device
            z = label_logits(self.model, self.label_ids, input_ids=input_ids.to(device),  # (rows, 2), fp32
                             attention_mask=mask.to(device), position_ids=positions.to(device),
                             use_cache=bool(prefix), **kwargs)
            for j, p in zip(batch, torch.softmax(z, dim=-1)[:, 0].tolist()):
                out[idx[j]] = p
            if progress is not None:
                progress.update(len(batch) / per_pair)

    def _template_head(self):
        """The judge template's head (chat preamble and instructions, up to the question), run once and kept.

        Found as the tokens two judge prompts with nothing in common share; a sequence is scored from it
        only if it starts with exactly these tokens. It depends on the tokenizer and template alone, never
        on which pairs came before, so every run splits a sequence at the same place (identical numbers
        whether a job ran through or was resumed)."""
        if self._template_prefix is None:
            head = template_head(self.tokenizer, self.template)
            self._template_prefix = ((), None)
            if len(head) >= MIN_PREFIX:
                try:
                    self._template_prefix = self._extend(None, head)
                except AttributeError:  # a cache without per-layer keys and values (recurrent, hybrid)
                    self.reuse_prefix = False
        return self._template_prefix if self._template_prefix[1] is not None else None

    def _extend(self, prefix, ids: list[int]):
        """(ids, per-layer (k, v)) of `prefix` followed by `ids`."""
        return run_prefix(self.model, ids, prefix)


MIN_PREFIX = 16  # tokens a shared prefix needs before running it once pays for the extra forward call
GPU_MIN_GROUP = 4  # sequences of one prompt that get their own batch with the question shared, on a GPU


def _common_prefix_length(sequences: list[list[int]]) -> int:
    first = sequences[0]
    n = min(len(s) for s in sequences)
    for s in sequences[1:]:
        i = 0
        while i < n and s[i] == first[i]:
            i += 1
        n = i
    return n
