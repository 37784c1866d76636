"""One config system for every command: a command's options are a dataclass, and each field gives its
flag, its YAML key, its type, its range and its `--help` text. One loader reads them: the defaults, then
the `--config` YAML file, then the flags given on the command line.

    @dataclass
    class ScoreOptions:
        model: ModelOptions = group(ModelOptions)          # a group's fields are flags of their own
        input: str = opt(None, "JSONL file of pairs", required=True)
        batch_size: int = opt(8, "pairs per forward pass (default 8)", at_least=1)

    add_arguments(parser, ScoreOptions)                     # --model ... --input INPUT --batch-size ...
    options = from_args(ScoreOptions, args, "gram score")   # checked: types, choices, ranges, required

YAML keys are the flag names (`batch-size: 4`) or the fields' (`batch_size: 4`). An unknown key, a value
of the wrong type, outside its choices or its range, or a required option given nowhere is a one-line
`OptionError`. The flags' argparse defaults are all None, so that a flag not given never hides the file's
value; the dataclass holds the real defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import field
from pathlib import Path

from .errors import OptionError


def opt(default=None, help: str = "", *, required: bool = False, choices=None, at_least=None, above=None,
        at_most=None, below=None, repeat: bool = False, metavar: str | None = None, positional: bool = False,
        flag: bool = True):
    """A command option. `at_least` / `above` / `at_most` / `below`: its range; `repeat`: a flag given
    several times makes a list; `flag=False`: a field that is no flag or key (a group's field that a
    command does not take)."""
    return field(default=default, metadata={
        "help": help, "required": required, "choices": tuple(choices) if choices else None, "at_least": at_least,
        "above": above, "at_most": at_most, "below": below, "repeat": repeat, "metavar": metavar,
        "positional": positional, "flag": flag})


def group(cls):
    """A field that holds a group of options (a dataclass of its own), as flags in its place."""
    return field(default_factory=cls, metadata={"group": True})


def base_type(annotation, owner=None):
    """(int, True) for `int | None` and the like; string annotations are resolved in `owner`'s module."""
    hint = annotation
    if isinstance(hint, str):
        import sys

        namespace = vars(sys.modules[owner.__module__]) if owner is not None else {}
        hint = eval(hint, {"typing": typing, **namespace})  # noqa: S307  (annotations of gram's own classes)
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint, optional = args[0], True
    if typing.get_origin(hint) is list:
        hint = typing.get_args(hint)[0]
    return hint, optional


def leaves(cls):
    """(field, type) for every option of `cls`, groups expanded in place, in order."""
    for f in dataclasses.fields(cls):
        kind, _ = base_type(f.type, cls)
        if f.metadata.get("group"):
            yield from leaves(kind)
        elif f.metadata.get("flag", True):
            yield f, kind


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def help_with_default(meta, default, always: bool) -> str:
    text = meta["help"]
    if not always and (default is None or default is False or meta["required"] or meta["positional"]
                       or "default" in text):
        return text
    return f"{text} (default: {default})".lstrip()


def add_arguments(parser: argparse.ArgumentParser, cls) -> None:
    """One argparse argument per option of `cls`, in field order. Class attributes: EXCLUSIVE, tuples of
    field names of which exactly one must be given (an argparse mutually exclusive group, placed where its
    first is); HELP_SHOWS_DEFAULTS, each help ends with the default (otherwise a help that does not speak
    of its default gets it appended, unless it is None or False); NEGATABLE, booleans get --no-X (a
    boolean that defaults to True always does)."""
    parser.set_defaults(prog=parser.prog)  # the command's name, for from_args's messages
    groups = {}
    show_defaults = getattr(cls, "HELP_SHOWS_DEFAULTS", False)
    for f, kind in leaves(cls):
        meta = f.metadata
        where = parser
        for names in getattr(cls, "EXCLUSIVE", ()):
            if f.name in names:
                if names not in groups:
                    groups[names] = parser.add_mutually_exclusive_group(required=True)
                where = groups[names]
        help_text = help_with_default(meta, f.default, show_defaults)
        kwargs = {"help": help_text.replace("%", "%%") if help_text else None}  # argparse %-formats help
        if meta["positional"]:
            where.add_argument(f.name, metavar=meta["metavar"], **kwargs)
            continue
        kwargs["default"] = None
        if kind is bool:
            negatable = getattr(cls, "NEGATABLE", False) or f.default is True  # a flag on by default: --no-X
            kwargs["action"] = argparse.BooleanOptionalAction if negatable else "store_true"
        else:
            kwargs.update(type=kind, choices=meta["choices"], metavar=meta["metavar"],
                          action="append" if meta["repeat"] else "store")
        where.add_argument(flag_name(f.name), required=meta["required"], **kwargs)


def read_yaml(path: str) -> dict:
    """A config file's mapping. YAML aliases (`*name`) are refused: ten nested ones ("billion laughs")
    expand a few lines into gigabytes, and a config has no need of them."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a config file",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)

    try:
        loaded = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=NoAliases) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise OptionError(f"{path}: cannot read the config: {err}") from None
    if not isinstance(loaded, dict):
        raise OptionError(f"{path}: expected a mapping of option: value")
    return loaded


def from_args(cls, args: argparse.Namespace, command: str = ""):
    """The options of `cls`: its defaults, then the YAML file `args.config` names, then the flags given
    (those not None in `args`). Every value checked (type, choices, range); `command` names the command in
    messages."""
    known = known_options(cls)
    path = getattr(args, "config", None)
    values = named_values(known, read_yaml(path), path, f" of `{command}`") if path else {}
    for name, (f, kind) in known.items():
        given = getattr(args, name, None)
        if given is not None:
            values[name] = checked(f, kind, given, flag_name(name))
    missing = [flag_name(n) for n, (f, _) in known.items() if f.metadata["required"] and not values.get(n)]
    if missing:
        raise OptionError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required (on the command "
                          "line or in --config)")
    for names in getattr(cls, "EXCLUSIVE", ()):
        given = [flag_name(n) for n in names if values.get(n) is not None]
        if len(given) != 1:
            raise OptionError(f"give exactly one of {', '.join(flag_name(n) for n in names)}"
                              + (f" (given: {', '.join(given)})" if given else ""))
    return build(cls, values)


def known_options(cls) -> dict:
    """Every option of `cls` (its groups' too) by field name: (field, its type)."""
    return {f.name: (f, kind) for f, kind in leaves(cls)}


def named_values(known: dict, items: dict, where: str, whose: str = "") -> dict:
    """Option values given by name (a YAML file's keys, `flag-name` or `field_name`), each checked; a name
    that is not an option is refused in one line naming the known ones."""
    values = {}
    for key, value in items.items():
        name = str(key).lstrip("-").replace("-", "_")
        if name not in known:
            raise OptionError(f"{where}: {key}: not an option{whose} (known: "
                              f"{', '.join(sorted(n.replace('_', '-') for n in known))})")
        values[name] = checked(known[name][0], known[name][1], value, f"{where}: {key}")
    return values


def from_dict(cls, items: dict, where: str):
    """The options of `cls` from a mapping given as data (verl's `reward_kwargs`, say), every value checked
    as a config file's are; `where` names the mapping in messages."""
    return build(cls, named_values(known_options(cls), items, where))


def build(cls, values: dict):
    """An instance of `cls` (its groups too) from flat option values; unnamed options keep their defaults."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.metadata.get("group"):
            kwargs[f.name] = build(base_type(f.type, cls)[0], values)
        elif f.name in values:
            kwargs[f.name] = values[f.name]
    return cls(**kwargs)


def flat(options) -> dict:
    """Every option's value by field name, groups flattened (what the commands read from `args`)."""
    out = {}
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        out.update(flat(value) if f.metadata.get("group") else {f.name: value})
    return out


def checked(f, kind, value, where: str):
    """`value` as the option's type, or a one-line OptionError saying what was expected."""
    meta = f.metadata
    if meta["repeat"] and not isinstance(value, list):
        value = [value]
    items = value if meta["repeat"] else [value]
    out = [one_value(meta, kind, item, where) for item in items]
    return out if meta["repeat"] else out[0]


def one_value(meta, kind, value, where: str):
    if value is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = "true or false" if kind is bool else kind.__name__
        raise OptionError(f"{where}: expected {expected}, got {shown(value)}")
    if meta["choices"] and value not in meta["choices"]:
        raise OptionError(f"{where}: expected one of {', '.join(map(str, meta['choices']))}, got {shown(value)}")
    if kind in (int, float):
        in_range(meta, value, where)
    return value


def shown(value) -> str:
    """A value as an error shows it: bounded in length and depth, however large the value is."""
    import reprlib

    short = reprlib.Repr()
    short.maxstring = short.maxother = 80
    short.maxlist = short.maxdict = short.maxtuple = short.maxset = 4
    short.maxlevel = 2
    return short.repr(value)


RANGES = (("at_least", "at least", lambda v, bound: v >= bound), ("above", "more than", lambda v, bound: v > bound),
          ("at_most", "at most", lambda v, bound: v <= bound), ("below", "less than", lambda v, bound: v < bound))


def in_range(meta, value, where: str) -> None:
    """`--flag must be at least 1` / `file.yaml: key: must be at least 1, got 0`; NaN is in no range."""
    separator = " " if where.startswith("--") else ": "
    for key, words, holds in RANGES:
        bound = meta[key]
        if bound is not None and not holds(value, bound):  # `not` so that NaN fails every comparison
            raise OptionError(f"{where}{separator}must be {words} {bound}, got {value}")


def relax_required(parser: argparse.ArgumentParser) -> None:
    """Leave the required flags to `from_args` (which also counts the --config file), not argparse; they
    stay marked required where a parser prints its help."""
    for action in parser._actions:
        action.required = action.required and not action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                relax_required(sub)
    for g in parser._mutually_exclusive_groups:
        g.required = False
