"""Every command's `--help`, pinned: the command line is a contract.

A change to a flag shows up here as a diff against tests/snapshots/help/<command>.txt. To accept one on
purpose, regenerate the files with `GRAM_UPDATE_SNAPSHOTS=1 python -m pytest tests/cli/test_help_snapshots.py`
and say in the change which flag changed and why.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from gram.cli import build_parser

SNAPSHOTS = Path(__file__).parent.parent / "snapshots" / "help"


def all_parsers() -> dict[str, argparse.ArgumentParser]:
    """{"gram", "gram score", "gram data convert", ...: parser}, walking the subcommands."""
    found = {}

    def walk(name, parser):
        found[name] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    walk(f"{name} {sub_name}", sub)

    walk("gram", build_parser())
    return found


def render(parser: argparse.ArgumentParser, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps to the terminal width
    return parser.format_help()


@pytest.mark.parametrize("command", sorted(all_parsers()))
def test_help_unchanged(command, monkeypatch):
    text = render(all_parsers()[command], monkeypatch)
    path = SNAPSHOTS / (command.replace(" ", "_") + ".txt")
    if os.environ.get("GRAM_UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert path.exists(), f"no snapshot for `{command} --help`: run with GRAM_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text()


def test_every_snapshot_has_a_command():
    names = {c.replace(" ", "_") + ".txt" for c in all_parsers()}
    assert sorted(p.name for p in SNAPSHOTS.glob("*.txt") if p.name not in names) == []
