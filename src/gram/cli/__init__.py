"""The `gram` command: one module per command (or family), each with `add_parser(sub)` and `run(args)`,
sharing the flag groups of `flags`.

    gram demo
    gram score --model smollm2-135m --input pairs.jsonl --output scores.jsonl --batch-size 8
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import logging
import os
import sys
from pathlib import Path

from .. import __version__
from ..errors import GramError, InputError, OptionError
from ..jobs.lock import job_lock
from ..options import flat, from_args, relax_required
from . import bon, data, demo, env, eval, rank, score, serve, train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gram", description="Generative foundation reward models (GRAM).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--version", action="version", version=f"gram {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (demo, score, rank, bon, data):
        command.add_parser(sub)
    train.add_parsers(sub)
    eval.add_parser(sub)
    serve.add_parser(sub)
    env.add_parser(sub)
    return parser


def interrupted_hint(args) -> str:
    """What a Ctrl-C kept and how to go on."""
    if hasattr(args, "stage"):  # a training command
        return ("; rerun the same command to resume from the last complete checkpoint in its output directory "
                "(the steps since it are taken again)")
    if hasattr(args, "resume") and getattr(args, "output", None):
        return (f"; rows scored in whole chunks are kept beside {args.output}: rerun with --resume to go on "
                "from there")
    return ""


def output_guard(args):
    """A file job's (score, rank, bon, eval) output checked and locked before any work: a directory where a
    file is wanted, or another run writing it, is one line now rather than a failure after the scoring."""
    if not (hasattr(args, "resume") and getattr(args, "output", None)):
        return contextlib.nullcontext()
    output = Path(args.output)
    if args.command != "eval" and output.is_dir():
        raise InputError(output, None, None, "is a directory; --output names the file to write (e.g. "
                         f"{output / 'scores.jsonl'})")
    return job_lock(output)


def unknown_arguments(parser: argparse.ArgumentParser, argv: list[str], unknown: list[str]) -> str:
    """'unrecognized arguments: --inpt x (did you mean --input?)', the flags looked up in the command's
    own parser (argparse's own message names none)."""
    for token in argv:  # down to the (sub)command the line names
        commands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if commands and token in commands[0].choices:
            parser = commands[0].choices[token]
    flags = [s for a in parser._actions for s in a.option_strings if s.startswith("--")]
    guesses = [m for arg in unknown if arg.startswith("--")
               for m in difflib.get_close_matches(arg.split("=")[0], flags, 1, 0.6)]
    hint = f" (did you mean {', '.join(guesses)}?)" if guesses else ""
    return f"unrecognized arguments: {' '.join(unknown)}{hint}"


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line, then the command's options (gram.options: defaults, --config file, flags),
    checked, as attributes of the namespace too (`args.batch_size`) and whole as `args.options`."""
    parser = build_parser()
    if not {"-h", "--help"} & set(argv):  # required flags may come from --config: gram.options checks them
        relax_required(parser)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        raise OptionError(unknown_arguments(parser, argv, unknown))
    cls = getattr(args, "options_cls", None)
    if cls is not None:
        args.options = from_args(cls, args, args.prog)
        vars(args).update(flat(args.options))
    return args


def quiet_loading_bars() -> None:
    """No bar at all with --quiet, transformers' and the hub's loading bars included, without importing
    transformers for a command that never loads it (both read the switch when they are imported)."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # read by the hub when it is imported
    if "huggingface_hub" in sys.modules:  # already imported: its switch (transformers reads it on import)
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def main(argv=None) -> int:
    """The `gram` command. Every GramError is caught here and only here: one line, its exit code."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = None
    try:
        args = parse(argv)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(name)s: %(message)s")
        if getattr(args, "quiet", False):
            quiet_loading_bars()
        with output_guard(args):
            return args.func(args)
    except KeyboardInterrupt:
        print(f"gram {args.command}: interrupted{interrupted_hint(args)}" if args else "gram: interrupted",
              file=sys.stderr)
        return 130
    except GramError as err:  # before the command runs, every error is about its command line
        command = next((a for a in argv if not a.startswith("-")), "") if args is None else args.command
        print(f"gram {command}: error: {err}" if args is None or err.names_command else f"gram: error: {err}",
              file=sys.stderr)
        return err.exit_code
    except OSError as err:  # a full disk, a read-only output directory: nothing written is half a file
        where = f"{err.filename}: " if err.filename else ""
        print(f"gram: error: {where}{err.strerror or err}", file=sys.stderr)
        return 1
