"""What identifies a file job's output, for `--resume`: every setting that changes a score and the content
of the models read, written beside the partial output and compared when a run goes on
(gram.jobs.partial). One judge spec for `gram score`, `eval`, `rank`, `bon` and `serve`, so none of them
forgets a setting.

JudgeSpec is one judge as a command asks for it, resolved once: the model's path, the prompt template it
was trained with, the reasoning protocol a GRAM-RR checkpoint is read with. Commands build it from their
options, load the judge from it and take their identity from it:

    spec = JudgeSpec.from_args(args)
    judge = spec.load()
    settings = {"input": ..., **spec.identity()}

The identity holds every field but those that only place or pace the work (PACE_ONLY: a pair's score does
not depend on its batch, tests/contracts/test_scorer_contract.py), so a field added to the spec joins it
without a list to keep; the dtype is the one that runs (`auto` resolved) and the model is its files'
identity, not only its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..model import backbone
from ..model import files as model_files

# the spec's fields that choose where and how fast the judge runs, not what it scores
PACE_ONLY = {"path", "device", "batch_size", "max_batch_tokens", "engine_options"}


def model_settings(name: str, path: str | None = None) -> dict:
    """The model's name and its files' identity (size, mtime, safetensors header hash): new weights written
    into the same directory are another model. `path`: the name resolved already."""
    return {"name": name, "files": model_files.identity(path or backbone.resolve(name))}


def resolved_dtype(engine: str, dtype: str | None, device: str | None = None) -> str:
    """The dtype a judge runs in, `auto` resolved as the engine resolves it (what ran, not what was asked)."""
    if engine == "vllm":
        from ..scoring.vllm_start import engine_dtype

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


@dataclass(frozen=True)
class JudgeSpec:
    model: str  # as the user named it
    path: str  # backbone.resolve(model): a directory from_pretrained loads
    template: str  # the judge prompt: as asked, else the one the model was trained with
    engine: str = "transformers"
    dtype: str | None = "auto"
    device: str | None = None
    max_length: int | None = 2048
    orders: str = "both"
    batch_size: int = 8
    max_batch_tokens: int | None = None
    reasoning: dict | None = None  # ReasoningOptions' values, the protocol resolved; None: the command has none
    engine_options: dict = field(default_factory=dict)  # vLLM's (gram.scoring.vllm_start.EngineOptions)

    @classmethod
    def from_args(cls, args, model: str | None = None) -> JudgeSpec:
        """The judge a command's options ask for (`model`: one of `gram eval`'s several)."""
        from ..scoring.loading import reasoning_protocol
        from ..scoring.vllm_start import EngineOptions
        from ..templates import trained_template

        model = model or args.model
        path = backbone.resolve(model)
        reasoning = None
        if hasattr(args, "protocol"):  # a command with the reasoning options
            reasoning = {**reasoning_settings(args), "protocol": args.protocol or reasoning_protocol(model)}
        engine = getattr(args, "engine", "transformers")
        vllm = {f.name: getattr(args, f.name) for f in fields(EngineOptions) if hasattr(args, f.name)}
        return cls(model=model, path=path, template=args.template or trained_template(path), engine=engine,
                   dtype=args.dtype, device=getattr(args, "device", None), max_length=args.max_length,
                   orders=getattr(args, "orders", "both"), batch_size=args.batch_size,
                   max_batch_tokens=args.max_batch_tokens, reasoning=reasoning,
                   engine_options=vllm if engine == "vllm" else {})

    def load(self, asynchronous: bool = False):
        """The judge (gram.scoring.load_judge), with the template and protocol resolved here; the loaders
        resolve the name again (a directory's stat; the embedded and hub caches) and name it in their errors.
        `asynchronous`: on vLLM, its async engine (a server's)."""
        from ..scoring.loading import load_judge

        return load_judge(self.model, device=self.device, dtype=self.dtype, max_length=self.max_length,
                          batch_size=self.batch_size, max_batch_tokens=self.max_batch_tokens, template=self.template,
                          engine=self.engine, asynchronous=asynchronous, reasoning=self.reasoning,
                          **self.engine_options)

    def identity(self) -> dict:
        """What identifies this judge's scores in a job's settings (module docstring)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in PACE_ONLY}
        out["model"] = model_settings(self.model, self.path)
        out["dtype"] = resolved_dtype(self.engine, self.dtype, self.device)
        if self.reasoning is None:
            del out["reasoning"]
        return out
