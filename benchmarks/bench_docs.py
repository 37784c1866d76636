"""Benchmarks write their tables into docs between <!-- NAME:start --> and <!-- NAME:end --> markers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_section(path: Path, name: str, text: str) -> None:
    """Put `text` between the section's markers (appending the section when it is not there yet)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    doc = path.read_text() if path.exists() else ""
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in doc and end in doc:
        doc = doc[:doc.index(start)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(doc)
    os.replace(tmp, path)


def report(text: str, section: str, write_docs: bool) -> None:
    """Print a benchmark's table; with `write_docs`, also put it into docs/BENCHMARKS.md."""
    print(text)
    if write_docs:
        replace_section(Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md", section, text)
