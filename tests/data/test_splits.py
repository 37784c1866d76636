"""gram.data.overlap and gram.data.splits: prompts shared between sets, and a split by prompt (`gram data
split`) that keeps each prompt on one side."""

import json

from helpers import read_rows as rows

from gram.cli import main
from gram.data.overlap import prompt_overlap
from gram.records import PreferencePair, ResponseSet


def test_overlap():
    a = [PreferencePair("What is 2+2?", "4", "5"), PreferencePair([{"role": "user", "content": "Hi"}], "x", "y")]
    b = [ResponseSet("what is  2+2?", ["x"]), ResponseSet("Hi", ["y"]), ResponseSet("new", ["z"])]
    o = prompt_overlap(a, b)
    assert (o.prompts_a, o.prompts_b, o.shared) == (2, 3, 2)


def test_split_by_prompt_keeps_prompts_together(tmp_path, capsys):
    from gram.data.splits import split_by_prompt

    records = [PreferencePair(f"q{i % 7}", f"a{i}", f"b{i}", "a") for i in range(40)]
    train, test = split_by_prompt(records, 10, seed=1)
    assert len(train) + len(test) == 40 and len(test) >= 10
    assert prompt_overlap(train, test).shared == 0
    assert split_by_prompt(records, 10, seed=1)[1] == test  # seeded
    src = tmp_path / "all.jsonl"
    src.write_text("".join(json.dumps(r.to_row()) + "\n" for r in records))
    assert main(["data", "split", "--input", str(src), "--test-fraction", "0.25", "--train-out", str(tmp_path / "tr.jsonl"),
                 "--test-out", str(tmp_path / "te.jsonl")]) == 0
    assert "shared prompts: 0" in capsys.readouterr().err
    assert len(rows(tmp_path / "tr.jsonl")) + len(rows(tmp_path / "te.jsonl")) == 40
