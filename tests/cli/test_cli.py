"""`gram score` end to end on the tiny model: every input field kept, scores that do not depend on the
batch, one order, bad input named by file, line and field, pass-through fields that survive a round trip;
and every help page renders."""

import json

import pytest
from helpers import read_rows

from gram.cli import main

ROWS = [
    {"id": 1, "prompt": "What is 2+2?", "response_a": "4", "response_b": "5", "source": "demo"},
    {"id": 2, "prompt": [{"role": "user", "content": "Hi"}], "response_a": "Hello!", "response_b": "Go away."},
    {"id": 3, "prompt": "Name a colour.", "response_a": "the quick brown fox " * 5, "response_b": "Blue."},
]


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_score_round_trip(tmp_path, tiny_model_dir, capsys):
    src, out = tmp_path / "pairs.jsonl", tmp_path / "scores.jsonl"
    write_rows(src, ROWS)
    assert main(["score", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out),
                 "--batch-size", "2", "--quiet"]) == 0
    rows = read_rows(out)
    assert [r["id"] for r in rows] == [1, 2, 3]
    for original, row in zip(ROWS, rows):
        assert {k: row[k] for k in original} == original  # every input field kept
        assert row["score_a"] + row["score_b"] == pytest.approx(1.0, abs=1e-6)
        assert row["score_a"] == pytest.approx((row["p_a_ab"] + 1 - row["p_a_ba"]) / 2, abs=1e-6)
    summary = capsys.readouterr().err
    assert "3 pairs" in summary and "pairs/s" in summary and "position consistency" in summary

    # batch size does not change the scores
    out1 = tmp_path / "scores1.jsonl"
    assert main(["score", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out1),
                 "--batch-size", "1", "--quiet"]) == 0
    for x, y in zip(rows, read_rows(out1)):
        assert x["score_a"] == pytest.approx(y["score_a"], abs=1e-5)


def test_score_single_order(tmp_path, tiny_model_dir, capsys):
    src, out = tmp_path / "pairs.jsonl", tmp_path / "scores.jsonl"
    write_rows(src, ROWS[:1])
    assert main(["score", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out),
                 "--orders", "ab", "--quiet"]) == 0
    row = read_rows(out)[0]
    assert row["p_a_ba"] is None and row["score_a"] == pytest.approx(row["p_a_ab"])
    assert "orders ab" in capsys.readouterr().err


@pytest.mark.parametrize("line, message", [
    ('{"prompt": "q", "response_a": "a"', "pairs.jsonl:2: not valid JSON"),
    ('{"prompt": "q", "response_a": "a"}', "pairs.jsonl:2: response_b: missing"),
    ('{"prompt": "q", "response_a": 3, "response_b": "b"}', "pairs.jsonl:2: response_a: expected a string, got int"),
    ('{"prompt": [{"role": "user"}], "response_a": "a", "response_b": "b"}', "pairs.jsonl:2: prompt[0].content"),
    ('[1, 2]', "pairs.jsonl:2: expected a JSON object"),
])
def test_bad_input_names_file_line_and_field(tmp_path, tiny_model_dir, capsys, line, message):
    src = tmp_path / "pairs.jsonl"
    src.write_text(json.dumps(ROWS[0]) + "\n" + line + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["score", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_empty_input_and_bad_model(tmp_path, capsys):
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n")
    assert main(["score", "--input", str(src), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "empty file" in capsys.readouterr().err
    write_rows(src, ROWS[:1])
    assert main(["score", "--model", str(tmp_path), "--input", str(src), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "holds no config.json" in capsys.readouterr().err


def _subcommands(parser, prefix=()):
    """Every (sub)command path of the CLI, e.g. ("data", "split")."""
    import argparse
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subcommands(sub, prefix + (name,))
            return
    yield prefix


def test_every_help_page_renders(capsys):
    from gram.cli import build_parser
    paths = list(_subcommands(build_parser()))
    assert ("finetune",) in paths and ("data", "split") in paths
    for path in paths:
        with pytest.raises(SystemExit) as stop:
            main([*path, "--help"])
        assert stop.value.code == 0, path
        assert "usage:" in capsys.readouterr().out


def test_surrogates_in_pass_through_fields_round_trip(tmp_path, tiny_model_dir):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"prompt": "q", "response_a": "1", "response_b": "2", "note": "\\ud800 kept"}\n')
    out = tmp_path / "out.jsonl"
    assert main(["score", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out), "--quiet"]) == 0
    (row,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["note"] == "\ud800 kept" and 0 < row["score_a"] < 1


def test_rank_rows_keep_the_inputs_fields_and_gain_only_the_rankings(tmp_path, tiny_model_dir):
    """A row without models, source, category or meta does not gain them (as nulls, "" and {})."""
    src = tmp_path / "sets.jsonl"
    given = [{"prompt": "q", "responses": ["a", "bb", "ccc"]},
             {"prompt": "r", "responses": ["x", "y"], "best": 1, "source": "mine", "note": 7}]
    src.write_text("".join(json.dumps(r) + "\n" for r in given))
    out = tmp_path / "ranked.jsonl"
    assert main(["rank", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out), "--quiet",
                 "--max-length", "1024"]) == 0
    from gram.scoring.rank import RankResult

    for want, row in zip(given, map(json.loads, out.read_text().splitlines())):
        assert set(row) == set(want) | set(RankResult.FIELDS) and row["note" if "note" in want else "prompt"] == \
            want["note" if "note" in want else "prompt"]


def test_env_says_where_benchmarks_are_read_and_whether_they_are_there(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GRAM_DATA", raising=False)
    (tmp_path / "checkout").mkdir()
    monkeypatch.chdir(tmp_path / "checkout")
    assert main(["env", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["gram_data_from"] == "the default, ../shared/data" and info["gram_data_found"] is False
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert main(["env", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["gram_data"] == str(tmp_path / "shared" / "data") and info["gram_data_found"] is True
    monkeypatch.setenv("GRAM_DATA", str(tmp_path / "elsewhere"))
    assert main(["env", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["gram_data"], info["gram_data_found"], info["gram_data_from"]) == \
        (str(tmp_path / "elsewhere"), False, "$GRAM_DATA")


def test_demo_says_what_ran_and_shows_a_tie_as_a_tie(tiny_model_dir, monkeypatch):
    """The engine and dtype that ran are in the header; an exact tie is "TIE", never "B"."""
    import io

    from gram.cli import demo
    from gram.scoring.base import PairScore

    out = io.StringIO()
    assert demo.run(str(tiny_model_dir), device="cpu", out=out) == 0
    assert f"model {str(tiny_model_dir)!r} (transformers, float32; loaded in" in out.getvalue()
    import gram.scoring.judge as judge_module

    monkeypatch.setattr(judge_module.Judge, "compare_many", lambda self, pairs, **k: [PairScore(0.5, 0.5, 0.5, 0.5)
                                                                                        for _ in pairs])
    out = io.StringIO()
    assert demo.run(str(tiny_model_dir), device="cpu", out=out) == 0
    rows = [line for line in out.getvalue().splitlines() if "0.500   0.500" in line]
    assert rows and all("TIE" in line for line in rows) and f"{len(rows)} exact ties" in out.getvalue()
