"""The `gram` command: one module per command (or family), each with `add_parser(sub)` and `run(args)`,
sharing the flag groups of `flags`.

    gram demo
    gram score --model smollm2-135m --input pairs.jsonl --output scores.jsonl --batch-size 8
"""

from __future__ import annotations

import argparse
import logging
import sys

from .. import __version__, backbone
from ..io import InputError
from ..templates import TemplateError
from . import bon, data, demo, env, eval, rank, score, serve, train
from .flags import add_config_arg, apply_config, config_path


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
    for name in CONFIGURABLE:
        add_config_arg(command_parser(parser, name))
    return parser


def interrupted_hint(args) -> str:
    """What a Ctrl-C kept and how to go on."""
    if hasattr(args, "config_cls"):  # a training command
        return ("; rerun the same command to resume from the last complete checkpoint in its output directory "
                "(the steps since it are taken again)")
    if hasattr(args, "resume") and getattr(args, "output", None):
        return (f"; rows scored in whole chunks are kept beside {args.output}: rerun with --resume to go on "
                "from there")
    return ""


CONFIGURABLE = ("score", "eval", "rank", "bon", "serve")  # the training commands read --config themselves


def command_parser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    name = next((a for a in argv if not a.startswith("-")), None)
    if name in CONFIGURABLE and config_path(argv):  # the file's options become defaults; flags override them
        try:
            apply_config(command_parser(parser, name), name, config_path(argv))
        except InputError as err:
            print(f"gram {name}: error: {err}", file=sys.stderr)
            return 2
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    for name in ("batch_size", "max_length", "limit", "max_connections", "max_batch_pairs", "max_items", "max_list",
                 "max_chars", "max_body_bytes", "max_queue_pairs"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            print(f"gram: error: --{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2
    for name in ("request_timeout", "body_timeout", "header_timeout"):
        value = getattr(args, name, None)
        if value is not None and not value > 0:
            print(f"gram: error: --{name.replace('_', '-')} must be more than 0 seconds", file=sys.stderr)
            return 2
    if getattr(args, "quiet", False):  # no bar at all, transformers' loading bars included
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"gram {args.command}: interrupted{interrupted_hint(args)}", file=sys.stderr)
        return 130
    except (InputError, backbone.BackboneError, TemplateError) as err:
        print(f"gram: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk, a read-only output directory: nothing written is half a file
        where = f"{err.filename}: " if err.filename else ""
        print(f"gram: error: {where}{err.strerror or err}", file=sys.stderr)
        return 1
