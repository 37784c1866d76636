"""Flag groups shared by the `gram` commands, each defined once: the model to load, how the judge reads
pairs, and how a file job runs (a quick look, resuming, progress)."""

from __future__ import annotations

import argparse

from .. import backbone
from ..scoring import STRATEGIES
from ..templates import JUDGE_TEMPLATES


def add_model_args(parser: argparse.ArgumentParser, several: bool = False) -> None:
    parser.add_argument("--model", default=None if several else backbone.DEFAULT_MODEL,
                        action="append" if several else "store",
                        help=f"embedded name ({', '.join(backbone.EMBEDDED)}), model directory or hub id "
                             f"(default: {backbone.DEFAULT_MODEL})" + ("; repeat for several" if several else ""))
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                        help="weights dtype; auto = bfloat16 on a GPU that has it, float32 otherwise")


def add_judge_args(parser: argparse.ArgumentParser, orders: bool = False, max_length: int | None = 2048) -> None:
    """How the judge reads pairs: batch, length and template (and, for file jobs, the orders scored)."""
    parser.add_argument("--batch-size", type=int, default=8, help="pairs per forward pass (default 8)")
    parser.add_argument("--max-batch-tokens", type=int, default=None,
                        help="cap on rows x padded length per forward pass (default: 2048 on the CPU, where "
                             "bigger batches of long pairs are slower; none on a GPU)")
    parser.add_argument("--max-length", type=int, default=max_length,
                        help="tokens per judge prompt; longer pairs lose the middles of their responses, "
                             "then of the prompt " + ("(default 2048)" if max_length == 2048 else
                             f"(default {max_length})" if max_length else
                             "(default: none below the model's context, as the reference; pairs over the context "
                             "are shortened to it and counted)"))
    if orders:
        parser.add_argument("--orders", choices=["both", "ab"], default="both",
                            help="both: average the two presentation orders (default); ab: response_a first "
                                 "only, half the cost, position bias not removed")
    parser.add_argument("--template", choices=list(JUDGE_TEMPLATES), default=None,
                        help="judge prompt (default: the one gram trained the model with, else gram-eval). "
                             + "; ".join(f"{name}: {t.help}" for name, t in JUDGE_TEMPLATES.items()))


def judge_options(args) -> dict:
    """The keyword arguments of gram.scoring.load_judge that the judge flags set."""
    return {"max_length": args.max_length, "batch_size": args.batch_size, "max_batch_tokens": args.max_batch_tokens,
            "template": args.template}


def add_run_args(parser: argparse.ArgumentParser, limit: str | None = None, resume: str | None = None) -> None:
    """--limit (help: `limit`), --resume (help: `resume`), each only where given, and --quiet."""
    if limit:
        parser.add_argument("--limit", type=int, default=None, help=limit)
    if resume:
        parser.add_argument("--resume", action="store_true", help=resume)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


RESUME = "go on from where an interrupted run with the same output stopped"


def add_strategy(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", choices=STRATEGIES, default="knockout",
                        help="linear (reference), knockout (batched rounds), round-robin (Bradley-Terry scores), "
                             "selection (full ranking)")


CONFIG_HELP = "YAML file of these options, by flag name (batch-size: 4); flags given here override it"


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, metavar="YAML", help=CONFIG_HELP)


def config_path(argv: list[str]) -> str | None:
    """The value of --config on a command line, if any."""
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None


def apply_config(command: argparse.ArgumentParser, name: str, path: str) -> None:
    """`--config FILE` for a command: its options become the command's defaults (a required flag given there
    is no longer required), so that the flags on the command line, parsed afterwards, win. A key that is not
    an option, or a value of the wrong type or not among the choices, is a one-line error."""
    import yaml

    from ..io import InputError

    try:
        loaded = yaml.safe_load(open(path, encoding="utf-8").read()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise InputError(path, None, None, f"cannot read the config: {err}") from None
    if not isinstance(loaded, dict):
        raise InputError(path, None, None, "expected a mapping of option: value")
    actions = {a.dest: a for a in command._actions if a.dest not in ("help", "config")}
    defaults = {}
    for key, value in loaded.items():
        dest = str(key).lstrip("-").replace("-", "_")
        action = actions.get(dest)
        if action is None:
            raise InputError(path, None, key, f"not an option of `gram {name}` (known: "
                             f"{', '.join(sorted(d.replace('_', '-') for d in actions))})")
        if isinstance(action, argparse._AppendAction):
            value = value if isinstance(value, list) else [value]
            items = value
        else:
            items = [value]
        converted = []
        for item in items:
            if action.nargs == 0:  # store_true / BooleanOptionalAction
                if not isinstance(item, bool):
                    raise InputError(path, None, key, f"expected true or false, got {item!r}")
            elif action.type is not None:
                wrong = isinstance(item, (bool, list, dict)) or (action.type is int and isinstance(item, float))
                try:
                    item = action.type(item) if not wrong else None
                except (TypeError, ValueError):
                    wrong = True
                if wrong:
                    raise InputError(path, None, key, f"expected {action.type.__name__}, got {loaded[key]!r}")
            elif not isinstance(item, str):
                raise InputError(path, None, key, f"expected a string, got {item!r}")
            if action.choices is not None and item not in action.choices:
                raise InputError(path, None, key, f"expected one of {', '.join(map(str, action.choices))}, got {item!r}")
            converted.append(item)
        defaults[dest] = converted if isinstance(action, argparse._AppendAction) else converted[0]
        action.required = False
    command.set_defaults(**defaults)
