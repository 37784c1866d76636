"""Hostile files: every failure is one line naming file, line and field, never a traceback; text fields
hold text; pass-through fields survive a round trip; a fuzz over raw bytes finds no traceback."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gram.cli import main
from gram.formats import read
from gram.io import InputError, read_jsonl
from gram.records import pair_from_row

GOOD = b'{"prompt": "q", "response_a": "a", "response_b": "b"}\n'
CASES = {
    "invalid utf-8": (GOOD + b'{"prompt": "q\xff", "response_a": "a", "response_b": "b"}\n', ":2", "not UTF-8"),
    "utf-16": (GOOD.decode().encode("utf-16"), ":1", "not UTF-8"),
    "deep nesting": (GOOD + b'{"prompt": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", ":2", "nested too deeply"),
    "huge integer": (GOOD + b'{"prompt": "q", "response_a": "a", "response_b": "b", "n": ' + b"9" * 5000 + b"}\n",
                     ":2", "not readable JSON"),
    "lone surrogate": (GOOD + b'{"prompt": "q", "response_a": "\\ud800", "response_b": "b"}\n', ":2: response_a",
                       "lone surrogate"),
    "surrogate in a message": (b'{"prompt": [{"role": "user\\udfff", "content": "c"}], "response_a": "a", '
                               b'"response_b": "b"}\n', ":1: prompt[0].role", "lone surrogate"),
}


def pairs_of(path):
    return [pair_from_row(row, path, line) for line, row in read_jsonl(path)]


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_bytes_are_located_errors(tmp_path, case):
    data, where, problem = CASES[case]
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    with pytest.raises(InputError) as err:
        pairs_of(path)
    assert f"{path}{where}" in str(err.value) and problem in str(err.value)
    with pytest.raises(InputError):  # the readers behind `gram data` too
        read("gram", path)


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


def test_surrogates_in_pass_through_fields_round_trip(tmp_path, tiny_model_dir):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"prompt": "q", "response_a": "1", "response_b": "2", "note": "\\ud800 kept"}\n')
    out = tmp_path / "out.jsonl"
    assert main(["score", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out), "--quiet"]) == 0
    (row,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["note"] == "\ud800 kept" and 0 < row["score_a"] < 1


def test_negative_limit_is_refused(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_bytes(GOOD * 3)
    assert main(["score", "--input", str(src), "--output", str(tmp_path / "o.jsonl"), "--limit", "-1"]) == 2
    assert "--limit must be at least 1" in capsys.readouterr().err


def test_an_unwritable_output_is_a_one_line_error(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_bytes(GOOD)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["data", "convert", "--format", "gram", "--input", str(src), "--output", str(blocker / "o.jsonl")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gram: error:")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.binary(max_size=80), st.sampled_from([
    GOOD, b'{"prompt": [], "response_a": "a"}\n', b"[1, 2]\n", b'{"prompt": "\\udc00"}\n', b"\xef\xbb\xbf{}\n",
    b'{"prompt": {"role": 1}, "response_a": 2, "response_b": null}\n', b"\n", b"{" * 3000 + b"\n"])), max_size=6))
def test_fuzz_readers_never_raise_anything_but_located_errors(tmp_path_factory, chunks):
    path = tmp_path_factory.mktemp("fuzz") / "in.jsonl"
    path.write_bytes(b"".join(chunks))
    for run in (lambda: pairs_of(path), lambda: read("gram", path), lambda: read("gram", path, skip_bad=True)):
        try:
            run()
        except InputError as err:
            assert str(err).startswith(str(path)) and "\n" not in str(err)


def test_the_hub_reader_keeps_each_value_its_type(tmp_path):
    """pyarrow would type the column as numbers and turn the string "1.5" into 1.5; the reader keeps it."""
    path = tmp_path / "prefs.jsonl"
    path.write_text('{"prompt": "q", "chosen": "1.5", "rejected": "2"}\n{"prompt": "q2", "chosen": 2, "rejected": "b"}\n')
    result = read("preference", path, skip_bad=True)
    (pair,) = result.records
    assert pair.response_a == "1.5" or pair.response_b == "1.5"
    (bad,) = result.rejects
    assert f"{path}:2" in bad["where"] and bad["item"]["chosen"] == 2


@pytest.mark.parametrize("case", ["pickle only", "custom code"])
def test_model_directories_gram_will_not_load_are_one_line_errors(tmp_path, tiny_model_dir, case, capsys):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    if case == "pickle only":
        (model / "model.safetensors").rename(model / "pytorch_model.bin")
        expected = "only pytorch_model.bin"
    else:
        config = json.loads((model / "config.json").read_text())
        config["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}
        (model / "config.json").write_text(json.dumps(config))
        expected = "custom modelling code"
    src = tmp_path / "in.jsonl"
    src.write_bytes(GOOD)
    assert main(["score", "--model", str(model), "--input", str(src), "--output", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gram: error:") and expected in err[0]
