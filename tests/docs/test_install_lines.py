"""Every install line in the docs (and in gram's own messages) runs unattended: no `pip uninstall` that stops at "Proceed (Y/n)?" (a
scripted install died there with EOFError after a 25-minute vLLM install), no `conda` / `apt` without -y."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / ".ci" / "run", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "examples").glob("*.py")), *sorted((ROOT / "benchmarks").glob("*.py")),
         *sorted((ROOT / "src").rglob("*.py"))]  # messages that tell a user what to run
ASKS = re.compile(r"\b(pip3?|uv\s+pip)\s+uninstall\b|\b(apt|apt-get|conda|mamba)\s+(install|remove|create)\b")


def commands(text: str) -> list[str]:
    """Each install or uninstall command, from its verb to the end of its command (`&&`, `;`, a backtick,
    the end of the line); the verb may be broken over two lines of prose, and a shell line continued."""
    text = re.sub(r"\\\n\s*", " ", text)
    return [" ".join(m.group(0).split()) + text[m.end():].split("\n")[0] for m in ASKS.finditer(text)]


def unattended(command: str) -> bool:
    words = re.split(r"&&|;|`|\|", command)[0].split()
    return "-y" in words or "--yes" in words


def test_every_uninstall_and_system_install_in_the_docs_says_yes():
    found, asking = 0, []
    for path in TEXTS:
        for command in commands(path.read_text(encoding="utf-8")):
            found += 1
            if not unattended(command):
                asking.append(f"{path.relative_to(ROOT)}: {command.strip()[:80]}")
    assert found >= 3 and asking == []


def test_the_check_catches_a_line_that_would_ask():
    assert not unattended(commands("then `pip uninstall torchvision torchaudio` (they break it)")[0])
    assert not unattended(commands("then `pip\nuninstall torchvision torchaudio`)")[0])  # the old README's
    assert unattended(commands("pip uninstall -y torchvision && pip install x")[0])
    assert not unattended(commands("pip uninstall torchvision && pip install -y x")[0])
