"""Every error gram raises on purpose, under one base: `gram.cli.main` catches `GramError` once and prints
its one line; library callers catch `GramError` (or the builtin each class also is, e.g. `ValueError`).

`exit_code`: 2 for what the user can fix (a flag, a file, a model name, settings that cannot go
together), 1 for a job that failed on its way (a diverging run, a full disk). `names_command`: printed
as `gram COMMAND: error: ...` (the command's settings or run are at fault) rather than `gram: error: ...`
(the message names its file or model)."""

from __future__ import annotations


class GramError(Exception):
    """The base of gram's errors: one line that says what is wrong and, where it can, what to do."""

    exit_code = 2
    names_command = False


# Reading input and options (gram.io, gram.options, gram.templates)
class InputError(GramError, ValueError):
    """Bad input, located: `file:line: field: problem` (JSONL) or `file: record N: field: problem`
    (records of a JSON array or a table, counted from 0)."""

    def __init__(self, path, line: int | None, field: str | None, problem: str, record: int | None = None):
        where = f"{path}" + (f":{line}" if line is not None else "") + (f": record {record}" if record is not None else "")
        super().__init__(f"{where}: {field + ': ' if field else ''}{problem}")
        self.path, self.line, self.record, self.field, self.problem = str(path), line, record, field, problem

    @property
    def location(self) -> str:
        return f"{self.path}" + (f":{self.line}" if self.line is not None else "") + (
            f": record {self.record}" if self.record is not None else "")


class OptionError(GramError, ValueError):
    """A bad option: `where: key: problem`, one line."""

    names_command = True


class TemplateError(GramError, ValueError):
    """A tokenizer or an input that the templates cannot render faithfully."""


# Models (gram.model, gram.scoring)
class BackboneError(GramError, RuntimeError):
    """A model name that cannot be resolved or loaded, with what to do about it."""


class ModelFileError(GramError, RuntimeError):
    """A model file that cannot be loaded (gram.model.backbone re-raises it as a BackboneError)."""


class NonFiniteScore(GramError, RuntimeError):
    """A judge whose label logits are NaN or infinite (diverged or broken weights): no score can be read."""


class ServerError(GramError, RuntimeError):
    """A model server answered something other than what gram asked for."""

    exit_code = 1


class MissingField(GramError, ValueError):
    """A rollout whose row lacks what the GRAM reward reads."""


# Training (gram.train)
class ConfigError(GramError, ValueError):
    """Settings that cannot go together, or a run that cannot start with them."""

    names_command = True


class RunMismatch(GramError, ValueError):
    """An output directory holding another run than the one asked for."""

    names_command = True


class NoExamples(GramError, ValueError):
    """A training file that gives the stage nothing to train on."""

    names_command = True


class NonFiniteTraining(GramError, RuntimeError):
    """A loss or gradient with NaN or infinite values: the loss or the weights diverged."""

    exit_code, names_command = 1, True

    def __init__(self, step: int, norm: float, advice: str = "", what: str = "the gradient's norm"):
        super().__init__(f"step {step}: {what} is {norm}" + (f": {advice}" if advice else ""))
        self.step, self.norm, self.what = step, norm, what


class SaveFailed(GramError):
    """Writing a checkpoint or the final model failed (a full disk, a quota, a file size limit): one line
    naming what was being written, why, and what a rerun resumes from."""

    exit_code, names_command = 1, True


# Serving (gram.serve): answered as HTTP statuses, never printed by the CLI
class Overloaded(GramError):
    """The server's queue is full: the request gets 429, with Retry-After (seconds) from the queue's size."""

    exit_code = 1

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after


class Abandoned(GramError):
    """Work stopped midway because its request left or passed its deadline (a policy's reference)."""

    exit_code = 1


class TooLarge(GramError):
    """A request that can never fit the server's queue, however idle it is: 413, not a 429 to retry."""

    exit_code = 1


class ShuttingDown(GramError):
    """The server stopped taking work (its --graceful-timeout passed): the request gets 503."""

    exit_code = 1
