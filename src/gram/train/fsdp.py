"""FSDP2 (`--fsdp`): torch's `fully_shard` applied by gram, on GPUs and on a CPU over gloo alike.

    torchrun --nproc_per_node 8 -m gram.cli finetune --fsdp ...

Each transformer block is one FSDP unit (its weights gathered for its forward and backward, resharded
after), the rest of the model the root unit; weights, gradients and optimizer state are sharded over every
process of the launch (one dimension, across nodes too). gram applies it itself because accelerate never
turns FSDP on for CPU processes (its MULTI_CPU mode wraps the model in DDP, whatever the plugin says).

Checkpoints: the model files a user loads (gathered to rank 0 by every rank, written by rank 0, as on every
engine)
and, for a resume, the sharded model and optimizer states in CHECKPOINT_STATE (torch.distributed.checkpoint:
each rank writes and reads its own shards, LoRA adapters and frozen weights alike).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

CHECKPOINT_STATE = "fsdp_state"  # the sharded model and optimizer of a checkpoint-N folder
SCHEDULER_FILE = "scheduler.pt"  # transformers' name: the learning-rate schedule, rank 0's


def blocks(model: nn.Module) -> list[nn.Module]:
    """The transformer blocks: the modules whose class the model names as never split (`_no_split_modules`,
    e.g. LlamaDecoderLayer), LoRA-wrapped models included."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    names = set(getattr(inner, "_no_split_modules", None) or ())
    found = [m for m in model.modules() if type(m).__name__ in names]
    if not found:
        raise ValueError(f"--fsdp: {type(inner).__name__} names no transformer block class (_no_split_modules)")
    return found


def shard(model: nn.Module, processes: int) -> nn.Module:
    """`fully_shard` each transformer block, then the whole model, over one mesh of every process. The
    model's parameters become DTensors in place (and move to the mesh's device); the same object is returned."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cuda" if torch.cuda.is_available() else "cpu", (processes,))
    for block in blocks(model):
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def keep_model(model, device_placement=None, evaluation_mode=False):
    """accelerate's prepare_model under FSDP2: the model is sharded already (accelerate's MULTI_CPU branch
    would wrap it in DDP)."""
    return model


class FSDPCheckpoints:
    """A Trainer mixin for a model `shard` has sharded: saving and resuming through torch's distributed
    state dicts (the Trainer's own save reads DTensor storages and fails). Every method is called on every
    rank: each gathers or reads over the process group."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.accelerator.prepare_model = keep_model

    def compute_loss_context_manager(self):
        """accelerate's mixed precision (bf16 on GPUs) around each forward, which its prepare_model would have
        put on the model's forward (a no-op in fp32, as on a CPU)."""
        stack = super().compute_loss_context_manager()
        stack.enter_context(self.accelerator.autocast())
        return stack

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """The whole model gathered into rank 0's CPU memory (every rank takes part) and written by rank 0 as a
        plain HF folder."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        adapters = hasattr(self.model, "peft_config")  # LoRA writes its adapters only: the base is not gathered
        full = get_model_state_dict(self.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True,
                                                                         ignore_frozen_params=adapters))
        for name in tied_duplicates(self.model):  # gathered as copies: save_pretrained would write both
            full.pop(name, None)  # rank 0 alone holds the gathered state
        if self.args.should_save:
            self._save(output_dir or self.args.output_dir, state_dict=full)
        dist.barrier()

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_state_dict

        model, optimizer = get_state_dict(self.model, self.optimizer)
        dcp.save({"model": model, "optimizer": optimizer}, checkpoint_id=Path(output_dir, CHECKPOINT_STATE))
        if self.args.should_save:
            torch.save(self.lr_scheduler.state_dict(), Path(output_dir, SCHEDULER_FILE))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_model_state_dict, set_model_state_dict

        state = {"model": get_model_state_dict(self.model)}
        dcp.load(state, checkpoint_id=Path(resume_from_checkpoint, CHECKPOINT_STATE))
        set_model_state_dict(self.model, state["model"])

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        if checkpoint is None:
            return
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict, set_optimizer_state_dict

        state = {"optimizer": get_optimizer_state_dict(self.model, self.optimizer)}  # its shapes: Adam's moments
        dcp.load(state, checkpoint_id=Path(checkpoint, CHECKPOINT_STATE))
        set_optimizer_state_dict(self.model, self.optimizer, state["optimizer"])
        self.lr_scheduler.load_state_dict(torch.load(Path(checkpoint, SCHEDULER_FILE), weights_only=True))


def tied_duplicates(model: nn.Module) -> list[str]:
    """The names of parameters that are another parameter under a second name (an LM head tied to the input
    embeddings): the first name is kept."""
    seen, duplicates = set(), []
    for name, parameter in model.named_parameters(remove_duplicate=False):
        if id(parameter) in seen:
            duplicates.append(name)
        seen.add(id(parameter))
    return duplicates


@cache
def sharded_trainer(trainer_cls: type) -> type:
    """The stage's Trainer class with FSDP2's checkpoints (one class per stage, made once)."""
    return type(f"FSDP{trainer_cls.__name__}", (FSDPCheckpoints, trainer_cls), {})
