"""gram.io: JSONL read with located one-line errors (non-regular files, a record over the size limit, bytes
that are not UTF-8 or not JSON, lone surrogates) and atomic writes that get the user's mode."""

import os
import stat

import pytest
from helpers import CASES, pairs_of

from gram.formats import read
from gram.io import (
    InputError,
    bounded_lines,
    read_jsonl,
    write_json_atomic,
    write_jsonl_atomic,
    write_text_atomic,
)


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


def test_atomic_writes_get_the_users_mode_and_leave_nothing_on_failure(tmp_path):
    old = os.umask(0o022)
    try:
        write_jsonl_atomic(tmp_path / "a.jsonl", [{"x": 1}])
        write_json_atomic(tmp_path / "b.json", {"x": 1})
        write_text_atomic(tmp_path / "c.md", "x")
    finally:
        os.umask(old)
    for name in ("a.jsonl", "b.json", "c.md"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644

    def rows():
        yield {"x": 1}
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_jsonl_atomic(tmp_path / "a.jsonl", rows())
    assert (tmp_path / "a.jsonl").read_text() == '{"x": 1}\n'  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.json", "c.md"]  # no temporary left


def test_a_gzip_file_given_as_jsonl_is_said_to_be_gzip_and_convert_reads_it(tmp_path, capsys):
    """It said "not UTF-8 text (byte 0x8b)"."""
    import gzip
    import json

    from gram.cli import main

    packed = tmp_path / "pairs.jsonl"  # gzip inside, whatever the name says
    packed.write_bytes(gzip.compress(json.dumps({"prompt": "q", "response_a": "a", "response_b": "b"}).encode()
                                     + b"\n"))
    assert main(["score", "--input", str(packed), "--output", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "a gzip-compressed file, not JSONL text: decompress it first (gunzip -c" in err and "0x8b" not in err
    out = tmp_path / "plain.jsonl"
    assert main(["data", "convert", "--format", "gram", "--input", str(packed), "--output", str(out)]) == 0
    assert json.loads(out.read_text())["response_a"] == "a"
