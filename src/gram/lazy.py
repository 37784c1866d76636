"""Packages whose names are imported on first use, so that importing the package (and `gram --help`, which
imports every command's options) loads no torch, transformers or FastAPI until a command needs them."""

from __future__ import annotations

import sys
from importlib import import_module


def lazy_exports(package: str, exports: dict[str, str]):
    """(`__getattr__`, `__dir__`) for `package`: each name in `exports` (name -> module, absolute or
    relative to the package) is imported from its module when first read."""
    def __getattr__(name: str):
        if name in exports:
            return getattr(import_module(exports[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:  # the lazy names too, so that tab completion finds them
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
