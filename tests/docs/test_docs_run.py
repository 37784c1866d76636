"""The docs run as written. Every ```bash block of README.md and docs/*.md runs, in order,
in a fresh folder laid out like a checkout (configs/ beside it, ../shared/data above it), each block
making the inputs later ones read. `gram` in them is tests/docs/docs_gram.py (the same command on the tiny
model with small limits), served warm by tests/docs/docs_zygote.py. Every ```python block of a doc runs too,
in order in one namespace (tests/docs/docs_python.py: model names resolve to the tiny model). A block that cannot run
here (it installs, needs GPUs, the hub or a server started elsewhere) says why on the line before it:
`<!-- docs-test: skip (why) -->`; the README's two fresh-machine commands are CI's own. docs/RLHF.md's
```yaml blocks (verl config fragments) are run by tests/rlhf/test_verl_worker.py. Blocks without a language are
shown output or a layout, not commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import code_blocks

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_skipped_block_says_why():
    """A skipped block says why; docs/RLHF.md skips none (issue 31: every code block there runs)."""
    assert "docs-test: skip" not in (ROOT / "docs" / "RLHF.md").read_text(encoding="utf-8")
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for marker in re.findall(r"<!-- docs-test: skip.*?-->", text):
            assert re.match(r"<!-- docs-test: skip \(.{10,}\) -->", marker), f"{path.name}: {marker}"


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A folder for the checkouts each doc runs in, ../shared/data beside them."""
    if not (SHARED / "data").is_dir():
        pytest.skip("../shared/data is not here")
    return tmp_path_factory.mktemp("docs")


@pytest.fixture(scope="module")
def warm_gram(checkout, tiny_model_dir):
    """tests/docs/docs_zygote.py serving on a socket; yields the environment the blocks run in."""
    env = {**os.environ, "GRAM_DOCS_TINY_MODEL": str(tiny_model_dir), "PYTHONPATH": str(ROOT / "src"),
           "TOKENIZERS_PARALLELISM": "false"}
    env.pop("GRAM_DATA", None)
    sock = checkout / "gram.sock"
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "docs" / "docs_zygote.py"), str(sock)], env=env)
    try:
        for _ in range(600):
            if sock.exists() or server.poll() is not None:
                break
            time.sleep(0.1)
        assert sock.exists(), "the warm gram did not start"
        yield env, sock
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize("doc", [p for p in DOCS if any(run for _, _, run in code_blocks(p))], ids=lambda p: p.name)
def test_the_docs_bash_blocks_run_as_written(doc, checkout, warm_gram):
    env, sock = warm_gram
    root = checkout / doc.stem / "gram"
    root.mkdir(parents=True)
    (root.parent / "shared").symlink_to(SHARED)
    for name in ("configs", "benchmarks", "examples"):
        (root / name).symlink_to(ROOT / name)
    client = f'"{sys.executable}" "{ROOT / "tests" / "docs" / "docs_zygote.py"}" --client "{sock}"'
    prelude = f'set -euo pipefail\ngram() {{ {client} "$@"; }}\n'
    env = dict(env)
    env["GRAM_DOCS_TIMES"] = str(root.parent / "times.txt")  # seconds per command, for a slow block
    for line, text, runnable in code_blocks(doc):
        if not runnable:
            continue
        done = subprocess.run(["bash", "-c", prelude + text], cwd=root, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{doc.name}:{line}: exit {done.returncode}\n{done.stderr[-3000:]}"


@pytest.mark.parametrize("doc", [p for p in DOCS if any(run for _, _, run in code_blocks(p, "python"))],
                         ids=lambda p: p.name)
def test_the_docs_python_blocks_run_as_written(doc, tmp_path, tiny_model_dir):
    env = {**os.environ, "GRAM_DOCS_TINY_MODEL": str(tiny_model_dir), "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "docs" / "docs_python.py"), str(doc)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{doc.name}: exit {done.returncode}\n{done.stderr[-3000:]}"
    assert done.stdout.count("--- ") == sum(run for _, _, run in code_blocks(doc, "python"))
