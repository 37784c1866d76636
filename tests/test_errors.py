"""One error base (gram.errors.GramError) in one module, caught once, in `gram.cli.main`."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import gram.errors
from gram import cli
from gram.errors import GramError

PACKAGE = Path(gram.errors.__file__).resolve().parent


def test_every_exception_class_is_defined_in_gram_errors():
    """No module but gram/errors.py defines an exception class (a class whose bases name an Error, an
    Exception or a GramError subclass)."""
    errors = {name for name, obj in vars(gram.errors).items() if inspect.isclass(obj)}
    elsewhere = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if bases & errors or any(b.endswith(("Error", "Exception")) for b in bases):
                    elsewhere.append(f"{path.relative_to(PACKAGE)}: {node.name}")
    assert elsewhere == ["serve/guard.py: _Refused"]  # an HTTPException: FastAPI answers it, never the CLI


def test_every_error_is_a_gram_error_with_an_exit_code():
    classes = [obj for obj in vars(gram.errors).values() if inspect.isclass(obj) and obj.__module__ == "gram.errors"]
    assert len(classes) >= 15
    for cls in classes:
        assert issubclass(cls, GramError) and cls.exit_code in (1, 2), cls


@pytest.mark.parametrize(("error", "line", "code"), [
    (gram.errors.BackboneError("no such model"), "gram: error: no such model", 2),
    (gram.errors.SaveFailed("disk full"), "gram env: error: disk full", 1),
    (gram.errors.NonFiniteTraining(3, float("nan")), "gram env: error: step 3: the gradient's norm is nan", 1),
])
def test_main_prints_any_gram_error_in_one_line(monkeypatch, capsys, error, line, code):
    """Any GramError a command raises, a new one too, is one line and its exit code: no command catches
    its own."""
    def fails(args):
        raise error

    monkeypatch.setattr(cli.env, "run", fails)
    real_parse = cli.parse

    def parse(argv):
        args = real_parse(argv)
        args.func = fails
        return args

    monkeypatch.setattr(cli, "parse", parse)
    assert cli.main(["env"]) == code
    assert capsys.readouterr().err.splitlines() == [line]
