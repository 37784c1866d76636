"""The command line itself: --version and `gram env`, --config YAML on the scoring commands, and one-line
answers to its mistakes (a mistyped flag, a negative --limit, a directory as --output); an output that
exists is replaced, and that is said."""

from __future__ import annotations

import json

import pytest
from helpers import GOOD, PAIR

from gram import __version__
from gram.cli import main


def test_version_and_env(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"gram {__version__}"
    assert main(["env", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["packages"]["torch"] and info["device"] and "cache_dir" in info
    assert info["cpu_fast_bf16"] is False and info["dtype_auto"] in ("float32", "bfloat16")  # GRAM_CPU_BF16=0


def test_yaml_config_on_the_scoring_commands(tmp_path, tiny_model_dir, capsys):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(PAIR) + "\n" + json.dumps({**PAIR, "prompt": "q2"}) + "\n")
    cfg = tmp_path / "score.yaml"
    cfg.write_text(f"model: {tiny_model_dir}\ninput: {src}\noutput: {out}\nbatch-size: 2\nlimit: 1\nquiet: true\n"
                   "orders: ab\n")
    assert main(["score", "--config", str(cfg)]) == 0  # required flags may come from the file
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["p_a_ba"] is None
    assert main(["score", "--config", str(cfg), "--limit", "2", "--orders", "both"]) == 0  # flags win
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["p_a_ba"] is not None
    capsys.readouterr()
    for bad, says in (("batch_size: many\n", "batch_size: expected int"), ("colour: red\n", "colour: not an option"),
                      ("orders: abc\n", "orders: expected one of both, ab")):
        cfg.write_text(bad)
        assert main(["score", "--config", str(cfg), "--input", str(src), "--output", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err


def test_scoring_over_an_existing_output_says_so(tmp_path, tiny_model_dir, capsys):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(PAIR) + "\n")
    out.write_text("old\n")
    assert main(["score", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out), "--quiet"]) == 0
    assert "exists and will be replaced" in capsys.readouterr().err and "score_a" in out.read_text()


def test_a_mistyped_flag_is_named_with_the_one_it_resembles(capsys):
    assert main(["score", "--inpt", "x.jsonl", "--output", "o.jsonl"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--inpt" in line and "did you mean --input?" in line


def test_the_cli_refuses_a_directory_as_output_before_loading_a_model(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "q", "response_a": "a", "response_b": "b"}\n')
    args = ["score", "--model", "no-such-model-dir/x", "--input", str(pairs)]
    assert main([*args, "--output", str(tmp_path)]) == 2
    assert "is a directory; --output names the file to write" in capsys.readouterr().err


def test_negative_limit_is_refused(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_bytes(GOOD * 3)
    assert main(["score", "--input", str(src), "--output", str(tmp_path / "o.jsonl"), "--limit", "-1"]) == 2
    assert "--limit must be at least 1" in capsys.readouterr().err
