"""One config system (gram.options) for every command: the same flags, YAML keys, types, ranges and
one-line errors, before any model is loaded."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from gram.cli import main
from gram.options import OptionError, add_arguments, from_args, group, opt, relax_required


@dataclass
class Inner:
    size: int = opt(8, "a size", at_least=1)
    mode: str = opt("a", "a mode", choices=("a", "b"))


@dataclass
class Outer:
    EXCLUSIVE = (("left", "right"),)

    inner: Inner = group(Inner)
    name: str | None = opt(None, "a name", required=True)
    rate: float = opt(0.5, "a rate", above=0, below=1)
    left: str | None = opt(None, "one side")
    right: list[str] | None = opt(None, "the other side", repeat=True)
    flag: bool = opt(False, "a switch")


def parse(argv, config=None):
    parser = argparse.ArgumentParser(prog="gram test")
    add_arguments(parser, Outer)
    parser.add_argument("--config")
    relax_required(parser)  # as gram's main does: required options may come from the file
    args = parser.parse_args(argv + (["--config", str(config)] if config else []))
    return from_args(Outer, args, "gram test")


def test_defaults_then_file_then_flags(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("name: n\nsize: 3\nrate: 0.25\nright: x\nflag: true\n")
    got = parse(["--size", "4"], config)
    assert (got.name, got.inner.size, got.inner.mode, got.rate, got.right, got.flag) == ("n", 4, "a", 0.25, ["x"], True)
    config.write_text("name: n\nrate: 1\nright: x\n")
    with pytest.raises(OptionError, match="c.yaml: rate: must be less than 1, got 1.0"):  # the file's value is checked
        parse([], config)


@pytest.mark.parametrize("argv, says", [
    (["--left", "l"], "--name is required (on the command line or in --config)"),
    (["--name", "n", "--left", "l", "--size", "0"], "--size must be at least 1, got 0"),
    (["--name", "n", "--left", "l", "--rate", "nan"], "--rate must be more than 0, got nan"),
    (["--name", "n"], "give exactly one of --left, --right"),
])
def test_flag_errors_are_one_line(argv, says):
    with pytest.raises(OptionError) as err:
        parse(argv)
    assert str(err.value) == says or says in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text, says", [
    ("sizes: 3\n", "c.yaml: sizes: not an option of `gram test` (known: flag, left, mode, name, rate, right, size)"),
    ("size: '3'\n", "c.yaml: size: expected int, got '3'"),
    ("size: true\n", "c.yaml: size: expected int, got True"),
    ("mode: c\n", "c.yaml: mode: expected one of a, b, got 'c'"),
    ("flag: 1\n", "c.yaml: flag: expected true or false, got 1"),
    ("- a\n", "c.yaml: expected a mapping of option: value"),
])
def test_file_errors_name_the_file_and_key(tmp_path, text, says):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    with pytest.raises(OptionError) as err:
        parse(["--name", "n", "--left", "l"], config)
    assert says in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("argv, says", [
    (["bon", "--prompt", "hi", "--output", "o.jsonl", "--n", "0"], "--n must be at least 1, got 0"),
    (["bon", "--prompt", "hi", "--output", "o.jsonl", "--n", "-2"], "--n must be at least 1, got -2"),
    (["bon", "--prompt", "hi", "--output", "o.jsonl", "--temperature", "0"], "--temperature must be more than 0"),
    (["bon", "--prompt", "hi", "--output", "o.jsonl", "--temperature", "nan"], "--temperature must be more than 0"),
    (["bon", "--prompt", "hi", "--output", "o.jsonl", "--max-new-tokens", "0"], "--max-new-tokens must be at least 1"),
    (["bon", "--output", "o.jsonl"], "give exactly one of --input, --prompt"),
    (["rank", "--input", "s.jsonl", "--output", "o.jsonl", "--budget", "-1"], "--budget must be at least 1"),
    (["rank", "--input", "s.jsonl", "--output", "o.jsonl", "--budget", "0"], "--budget must be at least 1"),
    (["serve", "--port", "99999"], "--port must be at most 65535, got 99999"),
    (["score", "--input", "i", "--output", "o", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["finetune", "--train-file", "x", "--output-dir", "y", "--learning-rate", "-1"],
     "--learning-rate must be more than 0, got -1.0"),
    (["finetune", "--train-file", "x", "--output-dir", "y", "--label-smoothing", "1"],
     "--label-smoothing must be less than 1, got 1.0"),
    (["data", "split", "--input", "x", "--test-fraction", "2", "--train-out", "a", "--test-out", "b"],
     "--test-fraction must be at most 1, got 2.0"),
])
def test_every_command_checks_its_numbers_before_any_work(argv, says, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err


def test_a_training_config_typo_names_the_command_and_the_valid_keys(tmp_path, capsys):
    config = tmp_path / "t.yaml"
    config.write_text("train_file: x\noutput_dir: y\nlearning-rat: 1e-5\n")
    assert main(["finetune", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "t.yaml: learning-rat: not an option of `gram finetune` (known: " in err and "learning-rate" in err
    assert "FinetuneConfig" not in err and len(err.splitlines()) == 1


def test_bon_reads_its_options_from_yaml_too(tmp_path, capsys):
    """bon's prompt source may come from the file (a required choice no flag gave)."""
    config = tmp_path / "b.yaml"
    config.write_text("prompt: [hi, there]\noutput: o.jsonl\nn: 0\n")
    assert main(["bon", "--config", str(config)]) == 2
    assert "b.yaml: n: must be at least 1, got 0" in capsys.readouterr().err


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path, capsys):
    """Ten levels of aliases ("billion laughs") took 6.1 GB and minutes: a config file may hold no alias."""
    import time

    from gram.cli import main

    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\nbatch-size: *a9\n")
    start = time.monotonic()
    assert main(["score", "--config", str(bomb), "--input", "x.jsonl", "--output", "y.jsonl"]) == 2
    err = capsys.readouterr().err
    assert time.monotonic() - start < 5 and len(err) < 600 and "aliases (*name) are not allowed" in err


def test_an_error_shows_a_large_value_bounded(tmp_path, capsys):
    from gram.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text("batch-size: [" + ", ".join(["[1, 2, 3, 4, 5, 6]"] * 2000) + "]\n")
    assert main(["score", "--config", str(cfg), "--input", "x.jsonl", "--output", "y.jsonl"]) == 2
    err = capsys.readouterr().err
    assert "batch-size: expected int, got [[1, 2, 3, 4, ...], " in err and len(err) < 300
