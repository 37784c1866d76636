"""A judge's two operations on a transformers causal LM, for every protocol (gram.scoring.judge's one-token
judge, gram.scoring.reasoning's reasoning judges):

    label_scores:  (z_A, z_B), the label tokens' fp32 logits at the end of each sequence
                   (gram.model.readout); their two-way softmax is P(A)
    sample:        seeded continuations (gram.model.sampling), for rationales

gram.scoring.vllm_engine offers the same on vLLM's engines, gram.scoring.vllm_server on a vLLM server.

label_scores batches sequences longest first by length (little padding), left-padded so that the last
position is every row's own last token, with position ids that skip the padding: at most
`rows_per_batch` rows and, where set, `max_batch_tokens` tokens with padding. With a `head` (the judge
template's head: chat preamble and instructions, the same for every pair), shared prefixes are run once
and their keys and values reused (exact: the same attention over the same keys): the head, kept across
calls, then, within each of `groups` (the sequences of one prompt: both orders, every pair of a ranking),
the question.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch

from ..model.batching import default_batch_tokens, left_pad, length_batches, pad_id
from ..model.kv_prefix import cache_argument, expand, keeps_logits, run_prefix
from ..model.readout import label_logits
from ..model.sampling import sample

MIN_PREFIX = 16  # tokens a shared prefix needs before running it once pays for the extra forward call
GPU_MIN_GROUP = 4  # sequences of one prompt that get their own batch with the question shared, on a GPU


def end_ids(tokenizer, model=None) -> set[int]:
    """The tokens that end what the model writes: the tokenizer's end token and the generation config's
    (the tokenizer's alone without a model: the vLLM engines and servers)."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    configured = configured if isinstance(configured, list) else [configured]
    return {i for i in (tokenizer.eos_token_id, *configured) if isinstance(i, int)}


class TransformersEngine:
    """`label_scores` and `sample` on a transformers model. `head`: the token ids every judge prompt starts
    with (gram.templates.template_head), or None: no shared prefix is reused. One call runs at a time (a
    judge awaited from several tasks runs its calls in worker threads): one model's memory, one kept head."""

    def __init__(self, model, tokenizer, *, max_batch_tokens: int | None = None, head: list[int] | None = None):
        self.model, self.pad_id, self.stop_ids = model.eval(), pad_id(tokenizer), end_ids(tokenizer, model)
        self.max_batch_tokens = default_batch_tokens(self.device, max_batch_tokens)
        self._keep_kwarg = keeps_logits(model)
        # Sliding-window caches do not extend a shared prefix the same way (recurrent ones are caught when
        # the head is first run): a full forward there.
        self._cache_kwarg = cache_argument(model)
        self.reuse_prefix = head is not None and self._cache_kwarg is not None \
            and getattr(getattr(model, "config", None), "sliding_window", None) in (None, 0)
        self._head_ids = list(head or ())
        self._head: tuple[tuple[int, ...], list] | None = None  # (ids, per-layer (k, v)) once run
        self._lock = threading.Lock()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def sample(self, prompts: list[list[int]], seeds: list[int], max_new_tokens: int, temperature: float,
               top_p: float) -> list[list[int]]:
        with self._lock:
            return sample(self.model, prompts, seeds, max_new_tokens, temperature, top_p, self.stop_ids, self.pad_id)

    def label_scores(self, sequences: list[list[int]], label_ids: list[int], *, rows_per_batch: int | None = None,
                     groups: list[list[int]] | None = None,
                     on_scored: Callable[[int], None] | None = None) -> list[tuple[float, float]]:
        """(z_A, z_B) at the end of each sequence, in order (module docstring). `on_scored(n)`: called as
        each batch of n sequences is done."""
        with self._lock, torch.inference_mode():
            return self._label_scores(sequences, label_ids, rows_per_batch, groups, on_scored)

    def _label_scores(self, sequences, label_ids, rows_per_batch, groups, on_scored) -> list[tuple[float, float]]:
        out: list = [None] * len(sequences)
        rows = rows_per_batch or max(len(sequences), 1)
        head = self.template_head() if self.reuse_prefix else None
        n = len(head[0]) if head else 0
        fitting = {i for i, seq in enumerate(sequences) if head and len(seq) > n and tuple(seq[:n]) == head[0]}
        self._run(sequences, [i for i in range(len(sequences)) if i not in fitting], rows, None, label_ids, out,
                  on_scored)
        if not fitting:
            return out
        pool = []
        for group in groups or [[i] for i in range(len(sequences))]:
            members = [i for i in group if i in fitting]
            if not members:
                continue
            seqs = [sequences[i] for i in members]
            extra = min(common_prefix_length(seqs), min(map(len, seqs)) - 1) - n
            # A group runs as its own small batch. On a CPU that costs little (batching gains ~20% at
            # best there); on a GPU it pays only for the larger groups of a ranking.
            big_enough = len(members) > 1 if self.device.type == "cpu" else len(members) >= GPU_MIN_GROUP
            if big_enough and extra >= MIN_PREFIX:
                cache = run_prefix(self.model, seqs[0][n:n + extra], head)
                self._run(sequences, members, rows, cache, label_ids, out, on_scored)
            else:
                pool.extend(members)
        self._run(sequences, pool, rows, head, label_ids, out, on_scored)
        return out

    def _run(self, sequences, idx: list[int], rows_per_batch: int, prefix, label_ids, out: list, on_scored) -> None:
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
            z = label_logits(self.model, label_ids, input_ids=input_ids.to(device),  # (rows, 2), fp32
                             attention_mask=mask.to(device), position_ids=positions.to(device),
                             use_cache=bool(prefix), **kwargs)
            for j, row in zip(batch, z.tolist()):
                out[idx[j]] = tuple(row)
            if on_scored is not None:
                on_scored(len(batch))

    def template_head(self):
        """The judge template's head, run once and kept: (ids, per-layer (k, v)), or None.

        A sequence is scored from it only if it starts with exactly these tokens. It depends on the
        tokenizer and template alone, never on which pairs came before, so every run splits a sequence at
        the same place (identical numbers whether a job ran through or was resumed)."""
        if self._head is None:
            self._head = ((), None)
            if len(self._head_ids) >= MIN_PREFIX:
                try:
                    self._head = run_prefix(self.model, self._head_ids, None)
                except AttributeError:  # a cache without per-layer keys and values (recurrent, hybrid)
                    self.reuse_prefix = False
        return self._head if self._head[1] is not None else None


def common_prefix_length(sequences: list[list[int]]) -> int:
    first = sequences[0]
    n = min(len(s) for s in sequences)
    for s in sequences[1:]:
        i = 0
        while i < n and s[i] == first[i]:
            i += 1
        n = i
    return n
