"""Issue 32's probe cases: cost bounded by --max-length, one writer per output, NaN rows valid JSON that
resume reads back as themselves, non-regular files refused in one line."""

import json
import math
import os
import subprocess
import sys
import time

import pytest

from gram.cli import main
from gram.io import InputError, bounded_lines, json_line, read_jsonl
from gram.jobs import lock
from gram.jobs.partial import PartialOutput
from gram.templates import encode_judge, encode_pretrain, judge_lengths, pretrain_lengths


def strict_loads(text: str):
    """json.loads that refuses NaN / Infinity, as every JSON reader but Python's does."""
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))


def test_a_nan_field_is_written_as_null_and_resume_reads_the_row_as_itself(tmp_path):
    row = {"prompt": "q", "response_a": "a", "response_b": "b", "extra": float("nan"), "more": [math.inf]}
    assert strict_loads(json_line(row))["extra"] is None
    out = tmp_path / "scores.jsonl"
    with PartialOutput(out, {"x": 1}, resume=False) as partial:
        partial.append([{**row, "score_a": 0.5}])  # the run is killed here: no finish()
    with PartialOutput(out, {"x": 1}, resume=True) as partial:
        partial.check([row], produced=("score_a",))  # before the fix: "extra: differs from the same row"
        assert partial.done == 1
        partial.finish()
    assert strict_loads(out.read_text())["more"] == [None]


def test_a_second_writer_of_one_output_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "scores.jsonl"
    script = f"import time; from gram.jobs import lock; lock.acquire({str(out)!r}); print('held', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", script],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(InputError, match=rf"another gram run is writing it \(pid {holder.pid}, "):
            PartialOutput(out, {}, resume=False)
        assert not out.with_name(out.name + ".partial.json").exists()  # the refused run touched nothing
    finally:
        holder.kill()
        holder.wait()
    with PartialOutput(out, {}, resume=False) as partial:  # the holder is gone: its OS lock with it
        partial.finish()
    assert not lock.lock_path(out).exists() and lock._held == {}


def test_the_cli_refuses_a_directory_as_output_before_loading_a_model(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "q", "response_a": "a", "response_b": "b"}\n')
    args = ["score", "--model", "no-such-model-dir/x", "--input", str(pairs)]
    assert main([*args, "--output", str(tmp_path)]) == 2
    assert "is a directory; --output names the file to write" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_non_regular_inputs_are_one_line_errors(tmp_path, kind):
    path = {"fifo": tmp_path / "pipe", "device": "/dev/zero", "directory": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    want = {"fifo": "a FIFO", "device": "a device", "directory": "is a directory"}[kind]
    with pytest.raises(InputError, match=want):
        list(read_jsonl(path))
    with pytest.raises(InputError, match=want if kind != "directory" else "no input files"):
        from gram.formats import read

        read("gram", path)


def test_a_record_over_the_size_limit_is_refused_with_its_line(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"a": 1}\n' + b'{"a": "' + b"x" * 5000 + b'"}\n')
    with open(path, "rb") as f, pytest.raises(InputError, match=r"big.jsonl:2: a record of over"):
        list(bounded_lines(f, path, limit=1000))


def test_batched_lengths_count_what_the_encoders_count(tiny_tokenizer):
    pairs = [("What is 2+2?", "4", "five <|im_end|> [The End of Assistant A's Answer]"),
             ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
               {"role": "user", "content": "more"}], "a " * 50, "b")]
    for template in ("gram", "gram-eval", "gram-eval-exact", "gram-demo"):
        assert judge_lengths(tiny_tokenizer, pairs, template) == [
            len(encode_judge(tiny_tokenizer, *p, template=template).input_ids) for p in pairs]
    assert pretrain_lengths(tiny_tokenizer, pairs) == [len(encode_pretrain(tiny_tokenizer, *p)[0]) for p in pairs]


def test_a_long_field_is_cut_by_characters_first_to_the_same_tokens(tiny_tokenizer, monkeypatch):
    from gram import templates

    long = "word " * 60_000 + "the end."
    cut = encode_judge(tiny_tokenizer, "q", long, "short answer", max_length=1024)
    monkeypatch.setattr(templates, "char_bound", lambda tokenizer, max_length: 10**12)  # as before the fix
    whole = encode_judge(tiny_tokenizer, "q", long, "short answer", max_length=1024)
    assert cut.input_ids == whole.input_ids and cut.truncated


HUGE = """
import resource, sys, time
sys.path.insert(0, "tests")  # not `tests.conftest`: verl's wheel installs a top-level `tests` package
from conftest import make_tokenizer
from gram.templates import encode_judge
tok = make_tokenizer()
huge = "lorem ipsum dolor " * 1_200_000  # ~21 MB: before the fix minutes and 8 GB on the embedded model
start = time.perf_counter()
ids = encode_judge(tok, "q", huge, huge, max_length=1024).input_ids
seconds = time.perf_counter() - start
try:  # this process's own peak (ru_maxrss carries the forking parent's peak across exec on Linux)
    peak_mb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) // 1024
except OSError:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(len(ids), seconds, peak_mb)
"""


def test_two_twenty_megabyte_responses_cost_seconds_and_bounded_memory():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", HUGE], capture_output=True, text=True, cwd=root, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    length, seconds, peak_mb = done.stdout.split()
    assert int(length) <= 1024
    assert float(seconds) < 10, f"{seconds} s for one pair"
    assert int(peak_mb) < 1500, f"peak RSS {peak_mb} MB"
    assert time.perf_counter() - start < 60


@pytest.mark.parametrize("train_file", ["nope.jsonl", "/dev/zero"])
def test_a_training_file_that_cannot_be_read_is_exit_2_before_any_work(tmp_path, capsys, train_file):
    path = train_file if train_file.startswith("/") else str(tmp_path / train_file)
    assert main(["finetune", "--train-file", path, "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("no such file" in err[0] or "a device" in err[0]), err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, a place no file can be made")
def test_an_output_that_cannot_be_written_is_said_as_such_before_any_work(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "q", "response_a": "a", "response_b": "b"}\n')
    for command in (["score", "--input", str(pairs)], ["bon", "--prompt", "hi", "--policy", "no-such/dir"]):
        assert main([*command, "--model", "no-such-model-dir/x", "--output", "/proc/gram-out.jsonl"]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert "/proc/gram-out.jsonl: cannot be written here" in line  # before: "another gram run is writing it"


def test_eval_refuses_two_benchmarks_or_models_that_share_a_results_folder(tmp_path, tiny_model_dir, capsys):
    import shutil

    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "pairs.jsonl").write_text('{"prompt": "q", "response_a": "a", "response_b": "b", "label": "a"}\n')
    one, two = (shutil.copytree(tiny_model_dir, tmp_path / m / "run") for m in ("m1", "m2"))
    out = tmp_path / "results"
    bench = ["--benchmark", str(tmp_path / "d1" / "pairs.jsonl")]
    cases = [["--model", str(one), *bench, "--benchmark", str(tmp_path / "d2" / "pairs.jsonl")],
             ["--model", str(one), "--model", str(two), *bench],
             ["--model", str(one), *bench, *bench]]
    for args in cases:
        assert main(["eval", *args, "--output", str(out)]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert "needs a results folder of its own" in line
    assert not out.exists()  # refused before anything was scored or written
    assert main(["eval", "--model", str(one), "--model", str(tmp_path / "m3"), *bench, "--output", str(out)]) == 2
    assert "m3" in capsys.readouterr().err and not out.exists()  # a missing later model: before the first is scored


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


def test_a_list_picked_without_a_comparison_claims_no_accuracy(capsys):
    from argparse import Namespace

    from gram.cli.rank import report

    row = {"responses": ["only"], "best": 0, "picked": 0, "comparisons": 0}
    report(Namespace(strategy="linear", output="o.jsonl"), [row, dict(row)], 0.1)
    line = capsys.readouterr().err
    assert "0 comparisons" in line and "picked the known best" not in line and "2 lists of one response" in line
    pair = {"responses": ["a", "bb"], "best": 1, "picked": 1, "comparisons": 1}
    report(Namespace(strategy="linear", output="o.jsonl"), [row, pair], 0.1)
    assert "picked the known best in 1/1 (1.000) (1 lists of one response not counted)" in capsys.readouterr().err
