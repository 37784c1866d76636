"""`gram data` on files: convert, pairs, validate and overlap; a row's extra fields kept; --skip-bad and its
rejects; one-line errors for bad bytes and for an output that cannot be written; nothing written where
nobody asked."""

import json

import pytest
from helpers import CASES, GOOD, PAIR
from helpers import read_rows as rows

from gram.cli import main
from gram.records import PreferencePair


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


def test_data_commands_keep_a_rows_extra_fields(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": 7, "prompt": "q", "response_a": "a", "response_b": "b", "label": "a",
                               "note": {"x": 1}}) + "\n" + json.dumps({"id": 8, "prompt": "q2", "responses": ["x", "y"]}) + "\n")
    outs = {name: tmp_path / f"{name}.jsonl" for name in ("convert", "pairs", "train", "test")}
    assert main(["data", "convert", "--format", "gram", "--input", src, "--output", outs["convert"]]) == 0
    assert main(["data", "pairs", "--input", src, "--output", outs["pairs"], "--drop-labels"]) == 0
    assert main(["data", "split", "--input", src, "--train-out", outs["train"], "--test-out", outs["test"],
                 "--test-size", 1]) == 0
    rows = {name: [json.loads(x) for x in path.read_text().splitlines()] for name, path in outs.items()}
    assert [r["id"] for r in rows["convert"]] == [7, 8] and rows["convert"][0]["note"] == {"x": 1}
    assert [r["id"] for r in rows["pairs"]] == [7, 8] and rows["pairs"][0]["label"] is None
    assert sorted(r["id"] for r in rows["train"] + rows["test"]) == [7, 8]


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_answers_one_line_and_skip_bad_keeps_the_rest(tmp_path, case, capsys):
    data, where, _ = CASES[case]
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    assert main(["data", "validate", "--input", str(path)]) in (1, 2)
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith(("gram", "  ")) for line in err) and "Traceback" not in "\n".join(err)
    if where != ":1" and "surrogate" in CASES[case][2]:  # an item-level problem: --skip-bad goes on
        out = tmp_path / "out.jsonl"
        assert main(["data", "convert", "--format", "gram", "--input", str(path), "--output", str(out),
                     "--skip-bad"]) == 0
        assert len(out.read_text().splitlines()) == data.count(b"\n") - 1
        rejects = (tmp_path / "out.jsonl.rejects.jsonl").read_text()  # written, surrogate escaped
        assert "\\ud800" in rejects or "\\udfff" in rejects


def test_an_unwritable_output_is_a_one_line_error(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_bytes(GOOD)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["data", "convert", "--format", "gram", "--input", str(src), "--output", str(blocker / "o.jsonl")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gram: error:")


def test_validate_and_skip_bad_write_nothing_where_nobody_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text(json.dumps(PAIR) + "\n" + '{"bad": 1}\n')
    assert main(["data", "validate", "--input", "in.jsonl"]) == 1
    assert main(["data", "stats", "--input", "in.jsonl", "--skip-bad", "--no-tokens", "--quiet"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_split_on_a_full_disk_writes_neither_output_and_names_the_one_that_failed(tmp_path):
    """Both splits or neither: the train file was left behind when the test file hit a full disk (here a file
    size limit: the test split is over it, the train split under it)."""
    import resource
    import subprocess

    from helpers import gram

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"prompt": f"question {i}?", "response_a": "yes " * 100, "response_b": "no",
                                       "label": "a"}) + "\n" for i in range(200)))
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (60_000,) * 2)  # noqa: E731
    done = subprocess.run(gram("data", "split", "--input", src, "--test-size", "150", "--seed", "0",
                               "--train-out", train, "--test-out", test),
                          capture_output=True, text=True, preexec_fn=limit)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"gram: error: {test}: File too large" in done.stderr
    assert not train.exists() and not test.exists() and list(tmp_path.iterdir()) == [src]
    out = tmp_path / "converted.jsonl"
    done = subprocess.run(gram("data", "convert", "--format", "gram", "--input", src, "--output", out),
                          capture_output=True, text=True, preexec_fn=limit)
    assert done.returncode == 1 and f"gram: error: {out}: File too large" in done.stderr and not out.exists()
