"""A doc's ```python blocks as the docs test runs them (tests/docs/test_docs_run.py): in order, in one namespace,
in the current folder, as written, on the tiny model: a model name that names no directory here (an
embedded name, a hub id, a checkpoint an earlier doc would have trained) resolves to $GRAM_DOCS_TINY_MODEL,
as tests/docs/docs_gram.py does for `gram` command lines (tests/ on PYTHONPATH, for helpers.py).

    PYTHONPATH=src:tests python tests/docs/docs_python.py docs/RLHF.md
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from helpers import code_blocks

from gram.model import backbone

TINY = os.environ["GRAM_DOCS_TINY_MODEL"]
_resolve = backbone.resolve


def resolve(name: str) -> str:
    return _resolve(name if Path(str(name)).is_dir() else TINY)


def main(doc: str) -> None:
    backbone.resolve = resolve
    namespace = {"__name__": "__main__"}
    for line, text, runnable in code_blocks(Path(doc), "python"):
        if runnable:
            print(f"--- {Path(doc).name}:{line}", flush=True)
            exec(compile(text, f"{doc}:{line}", "exec"), namespace)


if __name__ == "__main__":
    main(sys.argv[1])
