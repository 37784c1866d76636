"""Which training engine runs a launch, and what it can do, decided once before the model loads.

    gram finetune ...                                              one process
    torchrun --nproc_per_node 8 -m gram.cli finetune ...           DDP (gloo on a CPU, NCCL on GPUs)
    torchrun ... finetune --deepspeed configs/ds_zero3.json        DeepSpeed ZeRO-2 or ZeRO-3
    torchrun ... finetune --fsdp                                   FSDP2 (gram.train.fsdp), GPUs or CPUs

Every engine goes through the same Trainer; what differs is said here: whether weights are sharded (then
the final model is gathered by `save_model` and read back from disk for merging and evaluation), whether
stage 2's shared template head can run (not under FSDP, whose sharded layers cannot run twice before one
backward), and what cannot work at all, refused in one line before anything loads.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError


@dataclass(frozen=True)
class Engine:
    processes: int = 1
    nodes: int = 1
    zero_stage: int | None = None  # DeepSpeed's ZeRO stage, None without DeepSpeed
    fsdp: bool = False

    @property
    def name(self) -> str:
        if self.zero_stage is not None:
            kind = f"DeepSpeed ZeRO-{self.zero_stage}"
        elif self.fsdp:
            kind = "FSDP2"
        else:
            kind = "DDP" if self.processes > 1 else "one process"
        where = f", {self.processes} processes" + (f" on {self.nodes} nodes" if self.nodes > 1 else "")
        return kind + (where if self.processes > 1 else "")

    @property
    def sharded(self) -> bool:
        """Whether no process holds the whole model: its weights are gathered to save it."""
        return self.fsdp or self.zero_stage == 3

    @property
    def shares_template_head(self) -> bool:
        """Stage 2 runs the judge template's head once per batch (gram.train.examples.LeftPadCollator) on
        every engine but FSDP, whose layers reshard after a forward and cannot run twice before a backward."""
        return not self.fsdp


def engine_of(config) -> Engine:
    """The engine of this launch: the launcher's environment, --deepspeed's config and --fsdp."""
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", processes))
    nodes = max(1, processes // max(per_node, 1))
    zero = deepspeed_stage(config.deepspeed) if config.deepspeed else None
    return Engine(processes=processes, nodes=nodes, zero_stage=zero, fsdp=config.fsdp)


def accelerate_fsdp() -> bool:
    """Whether the launch asked accelerate for its FSDP plugin (`accelerate launch --use_fsdp`)."""
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"


def deepspeed_stage(path: str) -> int:
    """The ZeRO stage a DeepSpeed config asks for (0 when it names none), or a one-line error naming the file."""
    try:
        config = json.loads(Path(path).read_text())
    except OSError as err:
        raise ConfigError(f"--deepspeed {path}: cannot read it ({err.strerror or err})") from None
    except ValueError as err:
        raise ConfigError(f"--deepspeed {path}: not JSON ({err})") from None
    zero = config.get("zero_optimization", {}) if isinstance(config, dict) else None
    if not isinstance(zero, dict) or not isinstance(zero.get("stage", 0), int):
        raise ConfigError(f"--deepspeed {path}: zero_optimization.stage must be 0, 1, 2 or 3")
    stage = zero.get("stage", 0)
    if stage == 3 and zero.get("stage3_gather_16bit_weights_on_model_save") is not True:
        raise ConfigError(f"--deepspeed {path}: ZeRO-3 needs zero_optimization.stage3_gather_16bit_weights_on_model_"
                          "save: true, or no process can write the final model (configs/ds_zero3.json has it)")
    return stage


def check_engine(config, engine: Engine) -> None:
    """What no engine can run, refused before the model loads."""
    import importlib.util

    import torch
    import torch.distributed.fsdp

    if engine.fsdp and config.deepspeed:
        raise ConfigError("--deepspeed and --fsdp are two engines: choose one")
    if engine.zero_stage is not None and importlib.util.find_spec("deepspeed") is None:
        raise ConfigError(f"--deepspeed {config.deepspeed}: DeepSpeed is not installed (pip install 'gram[deepspeed]'; "
                          "on a CPU run with DS_ACCELERATOR=cpu)")
    if accelerate_fsdp():
        raise ConfigError("accelerate's FSDP plugin (--use_fsdp) is not gram's way to FSDP (on a CPU accelerate "
                          "would silently train with DDP): launch without it and pass --fsdp")
    if engine.fsdp and engine.processes < 2:
        raise ConfigError("--fsdp shards the model over the launch's processes: launch with torchrun "
                          "--nproc_per_node N (N >= 2)")
    if engine.fsdp and not hasattr(torch.distributed.fsdp, "fully_shard"):
        raise ConfigError(f"--fsdp needs torch >= 2.6 (FSDP2's fully_shard); this is torch {torch.__version__}")


def start(engine: Engine) -> None:
    """After the launcher's process group is up (TrainingArguments' device): DeepSpeed's communication
    joins it. accelerate does that on GPUs; on a CPU it starts a plain gloo group, and DeepSpeed would see
    one process while ZeRO-3 partitions the model at load."""
    if engine.zero_stage is not None and engine.processes > 1:
        import deepspeed.comm

        if not deepspeed.comm.is_initialized():
            deepspeed.comm.init_distributed(dist_backend="gloo", auto_mpi_discovery=False)


def load_whole_models() -> None:
    """From here on `from_pretrained` loads whole models, on one process (merging adapters, the held-out
    check): a ZeRO-3 run's TrainingArguments made every load partition itself over the process group."""
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    unset_hf_deepspeed_config()
