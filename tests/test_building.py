import json
import random

from gram.cli import main
from gram.data.cleaning import clean, dedup, is_garbled
from gram.data.overlap import prompt_overlap
from gram.data.pairs import both_orders, pairs_from_set
from gram.records import PreferencePair, ResponseSet


def test_pairs_from_set_all_and_sampled():
    s = ResponseSet("q", ["r0", "r1", "r2", "r3", "r4"], ["m0", "m1", "m2", "m3", "m4"], source="src")
    every = pairs_from_set(s)
    assert len(every) == 10 and all(p.label is None for p in every)
    assert {frozenset((p.response_a, p.response_b)) for p in every} == {
        frozenset((f"r{i}", f"r{j}")) for i in range(5) for j in range(i + 1, 5)}
    assert all(p.meta["model_a"] == "m" + p.response_a[1] for p in every)
    first = [p.response_a for p in every]
    assert 0 < sum(a < b for a, b in ((p.response_a, p.response_b) for p in every)) < 10, first  # placement drawn
    a = pairs_from_set(s, per_prompt=3, rng=random.Random(7))
    b = pairs_from_set(s, per_prompt=3, rng=random.Random(7))
    assert len(a) == 3 and [(p.response_a, p.response_b) for p in a] == [(p.response_a, p.response_b) for p in b]


def test_both_orders_swaps_labels():
    out = both_orders([PreferencePair("q", "x", "y", "a"), PreferencePair("q", "u", "v", None)])
    assert [(p.response_a, p.response_b, p.label) for p in out] == [
        ("x", "y", "a"), ("y", "x", "b"), ("u", "v", None), ("v", "u", None)]


def test_cleaning_reasons():
    pairs = [PreferencePair("q", "fine", "also fine"), PreferencePair("q", " ", "x"),
             PreferencePair("q", "Same  text", "same text"), PreferencePair("q", "bad \ufffd", "x"),
             PreferencePair("q", "caf\u00c3\u00a9", "x"), PreferencePair("", "a", "b")]
    kept, dropped = clean(pairs)
    assert [p.response_a for p in kept] == ["fine"]
    assert dropped == {"empty response": 1, "identical responses": 1, "garbled text": 2, "empty prompt": 1}
    assert not is_garbled("naïve café — “quotes” 日本語")


def test_cleaning_by_tokens(tiny_tokenizer):
    long = PreferencePair("q", "word " * 400, "x")
    kept, dropped = clean([PreferencePair("q", "a", "b"), long], tiny_tokenizer, max_tokens=800)
    assert len(kept) == 1 and dropped == {"longer than 800 tokens": 1}


def test_dedup_ignores_order_case_and_spaces():
    pairs = [PreferencePair("Q", "a", "b", "a"), PreferencePair("q ", "B", "A", "b"), PreferencePair("q", "a", "c")]
    kept, removed = dedup(pairs)
    assert removed == 1 and len(kept) == 2


def test_overlap():
    a = [PreferencePair("What is 2+2?", "4", "5"), PreferencePair([{"role": "user", "content": "Hi"}], "x", "y")]
    b = [ResponseSet("what is  2+2?", ["x"]), ResponseSet("Hi", ["y"]), ResponseSet("new", ["z"])]
    o = prompt_overlap(a, b)
    assert (o.prompts_a, o.prompts_b, o.shared) == (2, 3, 2)


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_data_cli_convert_pairs_validate_overlap(tmp_path, capsys):
    outputs = tmp_path / "results"
    for model in ("m1", "m2", "m3"):
        (outputs / model).mkdir(parents=True)
        (outputs / model / "model_outputs.json").write_text(json.dumps(
            [{"instruction": f"Q{i}", "output": f"{model} answer {i}", "generator": model} for i in range(4)]))
    sets = tmp_path / "sets.jsonl"
    assert main(["data", "convert", "--format", "alpaca-eval", "--input", str(outputs), "--output", str(sets)]) == 0
    assert "read 12 items" in capsys.readouterr().err and len(rows(sets)) == 4
    pairs = tmp_path / "pairs.jsonl"
    assert main(["data", "pairs", "--input", str(sets), "--output", str(pairs), "--per-prompt", "2", "--both-orders"]) == 0
    assert len(rows(pairs)) == 16 and "wrote 16 pairs (both orders)" in capsys.readouterr().err
    assert main(["data", "validate", "--input", str(pairs)]) == 0
    assert main(["data", "overlap", str(sets), str(pairs), "--check"]) == 1
    assert "4 shared" in capsys.readouterr().err

    # the reference fine-tuning JSON, written and read back
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text("".join(json.dumps(PreferencePair(f"q{i}", "x", "y", label).to_row()) + "\n"
                               for i, label in enumerate(["a", "b", "tie"])))
    ref = tmp_path / "ft.json"
    assert main(["data", "convert", "--format", "gram", "--input", str(labeled), "--output", str(ref),
                 "--to", "gram-finetune"]) == 0
    assert "not written: 1 x label 'tie'" in capsys.readouterr().err
    assert [r["output"] for r in json.loads(ref.read_text())] == ["A", "B"]


def test_data_cli_skip_bad_and_errors(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"prompt": "q", "response_a": "a", "response_b": "b"}\n{"prompt": "q", "response_a": "a"}\n')
    out = tmp_path / "out.jsonl"
    assert main(["data", "convert", "--format", "gram", "--input", str(src), "--output", str(out)]) == 2
    assert "in.jsonl:2: response_b: missing" in capsys.readouterr().err and not out.exists()
    assert main(["data", "convert", "--format", "gram", "--input", str(src), "--output", str(out), "--skip-bad"]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 bad records" in err and "wrote 1 rows" in err
    (reject,) = rows(tmp_path / "out.jsonl.rejects.jsonl")
    assert reject["field"] == "response_b" and reject["item"] == {"prompt": "q", "response_a": "a"}
    assert main(["data", "validate", "--input", str(src)]) == 1
    assert "in.jsonl:2: response_b: missing" in capsys.readouterr().err
    assert main(["data", "convert", "--format", "nope", "--input", str(src), "--output", str(out)]) == 2


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
