"""The transformers Trainer subclasses of the GRAM stages, and the callbacks they share (progress, the run's
clock across resumes, the stop on a non-finite gradient).

Stage 1 uses LengthGroupedTrainer (the Trainer's next-token loss on the response pair, the question
masked); stage 2 and adaptation use GramTrainer; the baseline uses BTTrainer. All three batch examples
of similar length together when the arguments ask for it (train_sampling_strategy="group_by_length").
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import ExportableState
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

from ..errors import NonFiniteTraining
from ..model.kv_prefix import cache_argument, inner, run_prefix
from ..model.kv_prefix import expand as expand_cache
from .losses import bradley_terry_loss, full_vocab_loss, gram_loss


def example_length(example: dict) -> int:
    """The width an example pads its micro-batch to: its tokens, or for a BT pair its longer side (the
    chosen and rejected rows are padded together)."""
    if "input_ids" in example:
        return len(example["input_ids"])
    return max(len(example["chosen_ids"]), len(example["rejected_ids"]))


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    """transformers' LengthGroupedSampler with its order drawn from seed + epoch, as the Trainer's random
    sampler does (data_seed + epoch): a run resumed in the middle of any epoch skips exactly the batches
    it trained, and several processes draw the same order."""

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))


class LengthGroupedTrainer(Trainer):
    """The Trainer of every stage, on every engine (gram.train.engines).

    Batches: transformers' group_by_length for gram's list-of-dicts datasets, BT pairs included: examples
    are drawn in seeded random groups of ~50 optimizer steps of the *global* batch (all processes, all
    accumulation steps), each group sorted by length, so a micro-batch holds examples of similar length and
    pads little (random batches of the scaled replication's stage-2 pairs waste 23% of their tokens on
    padding; grouped, 1%), and 2 x 6 processes see the batches 1 x 12 sees. The sampler's epoch is set from
    the trainer's state at each epoch's start, whatever accelerate wraps around it after a resume.

    Divergence: the loss of every micro-batch on every rank is checked before the optimizer step (one sync
    per step), and the global gradient norm where the engine has one (StopOnNonFinite)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.length_sampler = None
        self.step_losses = None  # the sum of this optimizer step's losses so far, on this rank
        self.add_callback(SamplerEpoch(self))
        self.add_callback(StopOnNonFinite(self))

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        result = self.stage_loss(model, inputs, return_outputs, num_items_in_batch)
        loss = result[0] if return_outputs else result
        if model.training:
            self.check_loss(loss.detach())
        return result

    def stage_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The stage's loss (stage 1: the Trainer's next-token loss)."""
        return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                    num_items_in_batch=num_items_in_batch)

    def check_loss(self, loss: torch.Tensor) -> None:
        """Before the backward of an optimizer step's last micro-batch (DeepSpeed steps inside that backward):
        stop on every rank if any rank's loss was non-finite in this step. The step's losses are summed on
        the device (no sync) and, at its last micro-batch, over the ranks: a sum is finite only when every
        term is."""
        total = loss.float().sum().reshape(1)
        self.step_losses = total if self.step_losses is None else self.step_losses + total
        if not self.accelerator.sync_gradients:
            return
        total, self.step_losses = self.step_losses, None
        if self.args.world_size > 1:
            import torch.distributed as dist

            dist.all_reduce(total)
        if not math.isfinite(value := total.item()):
            raise NonFiniteTraining(self.state.global_step + 1, value, what="the loss")

    def global_grad_norm(self) -> float | None:
        """The norm of the whole gradient before the optimizer applies it: DeepSpeed's own (its gradients are
        partitioned; it has stepped already, inside the backward, but nothing is saved before the check),
        else the gradients this rank holds: all of them under DDP, shards under FSDP2 (DTensors, whose
        norm is summed over the ranks)."""
        if self.is_deepspeed_enabled:
            norm = self.model_wrapped.get_global_grad_norm()
            return None if norm is None else float(norm)
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if not grads:
            return None
        from torch.distributed.tensor import DTensor

        if isinstance(grads[0], DTensor):
            return float(torch.nn.utils.get_total_norm(grads).full_tensor().item())
        norms = torch._foreach_norm(grads)
        return float(torch.linalg.vector_norm(torch.stack([n.to(norms[0].device) for n in norms])).item())

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        """Warmup of floor(warmup_ratio x steps) rather than transformers' ceil: linear warmup runs its first
        step at learning rate 0, so a run shorter than 1 / warmup_ratio steps (a 4-step smoke run) gets no
        warmup instead of a first step that learns nothing. The summary records the warmup steps."""
        if 0 < self.args.warmup_steps < 1:
            self.args.warmup_steps = int(num_training_steps * self.args.warmup_steps)
        return super().create_scheduler(num_training_steps, optimizer)

    def _get_train_sampler(self, train_dataset=None):
        dataset = self.train_dataset if train_dataset is None else train_dataset
        if self.args.train_sampling_strategy != "group_by_length" or dataset is None:
            return super()._get_train_sampler(train_dataset)
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        global_batch = self.args.train_batch_size * self.args.gradient_accumulation_steps * self.args.world_size
        self.length_sampler = EpochSeededLengthGroupedSampler(global_batch, [example_length(e) for e in dataset], seed)
        return self.length_sampler


class GramTrainer(LengthGroupedTrainer):
    """Stage 2: hidden states for the whole sequence, the LM head only at the last position.

    `logits_to_keep=1` makes the model project only the final hidden state (left padding puts every
    row's label position there), so no (batch, length, vocab) tensor is ever built. Every example of the
    batch counts, each at its own label position (the last column). The loss is the GRAM loss
    (gram.train.losses.gram_loss: label-smoothed cross-entropy over the two label tokens, = -log σ(d) +
    (ε/2)·d with d the label margin), or the full-vocabulary ablation.
    """

    loss_is_scaled_for_ga = False  # a mean over the micro-batch: the Trainer divides by the accumulation steps

    def __init__(self, *args, label_ids: tuple[int, int], label_smoothing: float, loss_type: str = "gram", **kwargs):
        super().__init__(*args, **kwargs)
        self.label_ids = list(label_ids)
        self.label_smoothing = label_smoothing
        self.loss_type = loss_type

    def stage_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")  # (N,) 0 = A, 1 = B
        head_ids = inputs.pop("head_ids", None)
        if head_ids is not None:  # the template head once, its keys and values shared by every row
            inputs[cache_argument(model) or "past_key_values"] = shared_head_cache(model, head_ids,
                                                                                  inputs["input_ids"].shape[0])
        outputs = model(**inputs, logits_to_keep=1, use_cache=head_ids is not None)
        last = outputs.logits[:, -1, :]  # (N, vocab)
        if self.loss_type == "gram":
            loss = gram_loss(last[:, self.label_ids], labels, self.label_smoothing)
        else:
            loss = full_vocab_loss(last, self.label_ids, labels)
        return (loss, outputs) if return_outputs else loss


def shared_head_cache(model, head_ids: torch.Tensor, rows: int):
    """A cache holding the head's keys and values (with their autograd graph), expanded to `rows` rows.
    `model` is what the engine wraps (DDP, a DeepSpeed engine): it runs the head, so that its hooks see
    it; the model inside says what the cache is (gram.model.kv_prefix.inner)."""
    _, layers = run_prefix(model, head_ids)
    return expand_cache(layers, rows, inner(model).config)


class BTTrainer(LengthGroupedTrainer):
    """The Bradley-Terry baseline: rewards of a batch's chosen and rejected responses in one forward."""

    loss_is_scaled_for_ga = False

    def stage_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        rewards = outputs.logits[:, 0]  # (2N,): chosen first, then rejected
        n = rewards.shape[0] // 2
        loss = bradley_terry_loss(rewards[:n], rewards[n:])
        return (loss, outputs) if return_outputs else loss


class ProgressCallback(TrainerCallback):
    """Adds tokens/s (non-padding tokens per second, all processes) and peak memory to each log line."""

    def __init__(self):
        self.start = self.last_time = None
        self.last_tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = self.last_time = time.perf_counter()
        self.last_tokens = state.num_input_tokens_seen

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None or "loss" not in logs:
            return
        now = time.perf_counter()
        tokens = state.num_input_tokens_seen
        logs["tokens_per_s"] = round((tokens - self.last_tokens) / max(now - self.last_time, 1e-9), 1)
        logs["peak_rss_mb"] = round(peak_rss_mb(), 1)
        self.last_time, self.last_tokens = now, tokens

    def on_step_end(self, args, state, control, **kwargs):
        if state.max_steps and state.global_step >= state.max_steps:  # the last steps are in the history too:
            control.should_log = True  # the run's mean loss reads the whole history (checkpoints.mean_logged_loss)


class RunClock(TrainerCallback, ExportableState):
    """Training seconds over the whole run, resumes included: each checkpoint's trainer_state.json keeps the
    seconds trained until then (its `stateful_callbacks`), and a resumed run starts its clock from them."""

    def __init__(self, before: float = 0.0):
        self.before, self.start = before, None

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return self.before + (time.perf_counter() - self.start if self.start is not None else 0.0)

    def state(self) -> dict:
        return {"args": {"before": round(self.seconds(), 3)}, "attributes": {}}

    @classmethod
    def saved(cls, checkpoint: str | None) -> float:
        """The seconds a checkpoint was written after (0 without a checkpoint or from before the clock)."""
        if not checkpoint:
            return 0.0
        state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
        return float(state.get("stateful_callbacks", {}).get(cls.__name__, {}).get("args", {}).get("before", 0.0))


class SamplerEpoch(TrainerCallback):
    """Sets the length-grouped sampler's epoch at the start of each epoch, from the trainer's state (a
    resumed run's state says which epoch it is in): after a mid-epoch resume the sampler sits under
    accelerate's skip and shard samplers, which do not pass set_epoch down to it."""

    def __init__(self, trainer):
        self.trainer = trainer

    def on_epoch_begin(self, args, state, control, **kwargs):
        if self.trainer.length_sampler is not None:
            self.trainer.length_sampler.set_epoch(int(state.epoch or 0))


class StopOnNonFinite(TrainerCallback):
    """Stops the run before a non-finite gradient is saved: the weights of every checkpoint stay finite.
    The loss is checked by the trainer itself (LengthGroupedTrainer.check_loss); this checks the global
    gradient norm, one device sync per optimizer step, before the optimizer step (DeepSpeed's step has
    happened by then, in the backward, but no checkpoint is written after it)."""

    def __init__(self, trainer):
        self.trainer = trainer

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        norm = self.trainer.global_grad_norm()
        if norm is not None and not math.isfinite(norm):
            raise NonFiniteTraining(state.global_step + 1, norm)


def peak_rss_mb() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
