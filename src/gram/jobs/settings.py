"""What identifies a file job's output, for `--resume`: every setting that changes a score and the content
of the models read, written beside the partial output and compared when a run goes on
(gram.jobs.partial). One helper for `gram score`, `eval`, `rank` and `bon`, so none of them forgets one."""

from __future__ import annotations

from ..model import backbone
from ..model import files as model_files


def model_settings(name: str) -> dict:
    """The model's name and its files' identity (size, mtime, safetensors header hash): new weights written
    into the same directory are another model."""
    return {"name": name, "files": model_files.identity(backbone.resolve(name))}


def resolved_dtype(engine: str, dtype: str | None, device: str | None = None) -> str:
    """The dtype a judge runs in, `auto` resolved as the engine resolves it (what ran, not what was asked)."""
    if engine == "vllm":
        from ..scoring.vllm_judge import engine_dtype

        return engine_dtype(dtype)
    import torch

    where = torch.device(device) if device else backbone.default_device()
    return str(backbone.resolve_dtype(dtype, where)).removeprefix("torch.")


def reasoning_settings(args) -> dict:
    """The reasoning options a command was given: every field of ReasoningOptions, read off the dataclass
    (a new option joins the resume identity by being declared there)."""
    from dataclasses import fields

    from ..scoring.protocols import ReasoningOptions

    return {f.name: getattr(args, f.name) for f in fields(ReasoningOptions)}


def judge_settings(args, model: str | None = None) -> dict:
    """The judge's side of a job's settings: model (name and files), engine, the resolved dtype, prompt
    template, the orders scored, the length limit and, where the command takes them, the reasoning options
    (protocol, samples, temperature, top_p, thinking budget, seed, rationales kept)."""
    settings = {"model": model_settings(model or args.model), "engine": args.engine,
                "dtype": resolved_dtype(args.engine, args.dtype, getattr(args, "device", None)),
                "template": args.template, "orders": args.orders, "max_length": args.max_length}
    if hasattr(args, "protocol"):
        from ..scoring.loading import reasoning_protocol

        settings["reasoning"] = {**reasoning_settings(args),
                                 "protocol": args.protocol or reasoning_protocol(model or args.model)}
    return settings
