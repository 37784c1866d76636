"""Files of another shape where gram reads its own JSONL: a Hugging Face style row, CSV, parquet or a JSON
array is refused in one line naming the `gram data convert` command that reads it, and that command
reads it; a bad CSV row is one line naming its line."""

from __future__ import annotations

import json

import pytest

from gram.cli import main


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("row, fmt", [
    ({"prompt": "q", "chosen": "a", "rejected": "b"}, "preference"),
    ({"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}],
      "rejected": [{"role": "assistant", "content": "b"}]}, "preference"),
    ({"conversations": [{"from": "human", "value": "q"}], "chosen": {"from": "gpt", "value": "a"},
      "rejected": {"from": "gpt", "value": "b"}}, "sharegpt-dpo"),
])
def test_a_hugging_face_style_row_names_the_conversion(tmp_path, capsys, row, fmt):
    src = write(tmp_path / "hf.jsonl", [row])
    assert main(["score", "--model", "nowhere", "--input", src, "--output", tmp_path / "o.jsonl"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"gram: error: {src}:1: ")
    assert f"`gram data convert --input {src} --format {fmt} --output pairs.jsonl`" in line
    out = tmp_path / "pairs.jsonl"
    assert main(["data", "convert", "--input", src, "--format", fmt, "--output", out]) == 0
    assert main(["data", "validate", "--input", out, "--format", "gram"]) == 0


def parquet(path, rows):
    import datasets

    datasets.Dataset.from_list(rows).to_parquet(str(path))
    return path


@pytest.mark.parametrize("kind", ["parquet", "csv", "json-array"])
def test_tables_and_arrays_are_refused_by_score_and_read_by_data_convert(tmp_path, capsys, kind):
    rows = [{"prompt": "q1", "response_a": "a", "response_b": "b", "label": "a"},
            {"prompt": "q2, with a comma", "response_a": "x\ny", "response_b": "z", "label": "b"}]
    if kind == "parquet":
        src = parquet(tmp_path / "pairs.parquet", rows)
    elif kind == "csv":
        src = tmp_path / "pairs.csv"
        import csv

        with open(src, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    else:
        src = tmp_path / "pairs.json"
        src.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    assert main(["score", "--model", "nowhere", "--input", src, "--output", tmp_path / "o.jsonl"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "not JSONL" in line and f"gram data convert --input {src} --format gram" in line
    out = tmp_path / "out.jsonl"
    assert main(["data", "convert", "--input", src, "--format", "gram", "--output", out]) == 0
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["prompt"], r["response_a"], r["response_b"], r["label"]) for r in got] == [
        (r["prompt"], r["response_a"], r["response_b"], r["label"]) for r in rows]


def test_a_bad_csv_row_is_one_line_with_its_line(tmp_path, capsys):
    src = tmp_path / "bad.csv"
    src.write_text('prompt,response_a,response_b\nq,a,b\n"multi\nline",a,b\nq,a,b,extra\n', encoding="utf-8")
    assert main(["data", "convert", "--input", src, "--format", "gram", "--output", tmp_path / "o.jsonl"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{src}:5" in line and "4 cells for 3 columns" in line
