"""Fuzz (hypothesis, bounded): `gram data` and `gram score` never answer with a traceback. Every failure is
one line naming file:line and the field; a huge field costs bounded time and memory. (The readers alone:
tests/contracts/test_input_properties.py; the server's bodies: tests/serve/test_serve_fuzz.py.)"""

from __future__ import annotations

import json

from helpers import JSON, TEXT_OK
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gram.cli import main

PAIRISH = st.fixed_dictionaries({"prompt": JSON, "response_a": JSON, "response_b": JSON},
                                optional={"label": JSON, "id": JSON})
VALID = st.fixed_dictionaries({"prompt": TEXT_OK.filter(str.strip), "response_a": TEXT_OK, "response_b": TEXT_OK},
                               optional={"label": st.sampled_from(["a", "b", "tie", None]), "note": JSON})
HOSTILE = (PAIRISH.map(lambda d: json.dumps(d).encode()) | JSON.map(lambda v: json.dumps(v).encode())
           | st.binary(max_size=40) | st.sampled_from([b"{" * 2000, b'{"n": ' + b"9" * 5000 + b"}", b"\xff\xfe"]))
# mostly well-formed lines holding hostile text, so that whole files get read, scored and written too
FILE = (st.lists(VALID.map(lambda d: json.dumps(d).encode()), min_size=1, max_size=4)
        | st.lists(HOSTILE, min_size=1, max_size=5)).map(lambda lines: b"\n".join(lines) + b"\n")


def one_line_or_none(err: str, path) -> None:
    lines = [line for line in err.strip().splitlines() if line]
    assert "Traceback" not in err
    for line in lines:
        assert line.startswith(("gram", "  ")), line


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(FILE, st.sampled_from(["gram", "preference", "sharegpt-dpo", "hh-rlhf"]))
def test_fuzz_gram_data(tmp_path_factory, capsys, data, fmt):
    root = tmp_path_factory.mktemp("fuzz-data")
    src = root / "in.jsonl"
    src.write_bytes(data)
    for args in (["validate", "--input", src, "--format", fmt],
                 ["convert", "--input", src, "--format", fmt, "--output", root / "o.jsonl", "--skip-bad"],
                 ["stats", "--input", src, "--format", fmt, "--no-tokens", "--quiet"]):
        rc = main(["data", *map(str, args)])
        captured = capsys.readouterr()
        assert rc in (0, 1, 2)
        one_line_or_none(captured.err, src)
        if rc == 2:
            assert str(src) in captured.err


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(FILE)
def test_fuzz_gram_score(tmp_path_factory, capsys, tiny_model_dir, data):
    root = tmp_path_factory.mktemp("fuzz-score")
    src, out = root / "in.jsonl", root / "o.jsonl"
    src.write_bytes(data)
    rc = main(["score", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out), "--quiet",
               "--max-length", "4096"])
    captured = capsys.readouterr()
    assert rc in (0, 2), captured.err
    one_line_or_none(captured.err, src)
    if rc == 0:  # every line scored, none dropped
        assert len(out.read_text(encoding="utf-8").splitlines()) == sum(1 for line in data.splitlines() if line.strip())
    else:
        assert str(src) in captured.err and not out.exists()


PEAK = """
import sys
from gram.cli import main
rc = main(sys.argv[2:])
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
open(sys.argv[1], "w").write(str(peak_kb // 1024))
sys.exit(rc)
"""


HUGE_TEXT = st.sampled_from(["lorem ipsum ", "x", "é", "日本語", "\n", "<|im_end|> "])


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(st.sampled_from(["prompt", "response_a", "response_b", "turn"]), st.sampled_from([2, 20, 70]), HUGE_TEXT)
def test_fuzz_a_huge_field_costs_bounded_time_and_memory(tmp_path_factory, tiny_model_dir, field, megabytes, unit):
    """One pair with a field of 2, 20 or 70 MB of one repeated text, among short pairs: scored in seconds and
    under 2 GB (it used to take minutes and 8 GB, or abort at 200 MB), or, past the 64 MiB record limit, one
    line naming the file and line."""
    import os
    import subprocess
    import sys
    import time

    root = tmp_path_factory.mktemp("fuzz-huge")
    src, out, peak = root / "in.jsonl", root / "o.jsonl", root / "peak"
    huge = unit * (megabytes * 2**20 // len(unit.encode()))
    row = {"prompt": "q", "response_a": "a", "response_b": "b"}
    if field == "turn":
        row["prompt"] = [{"role": "user", "content": huge}]
    else:
        row[field] = huge
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in ({**row, field: "short"} if field != "turn"
                                                                          else {}, row, {"prompt": "p", "response_a": "1",
                                                                                         "response_b": "2"}) if r) + "\n",
                   encoding="utf-8")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, str(peak), "score", "--model", str(tiny_model_dir), "--input",
                           str(src), "--output", str(out), "--quiet", "--max-length", "1024"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    seconds = time.perf_counter() - start
    del huge
    print(f"huge {field} {megabytes} MB of {unit!r}: rc {done.returncode}, {seconds:.1f} s, peak {peak.read_text()} MB")
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    if megabytes * 2**20 > 64 * 2**20:
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert f"{src}:" in done.stderr and "MiB" in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert len(out.read_text(encoding="utf-8").splitlines()) == (3 if field != "turn" else 2)
    assert seconds < 60, f"{seconds:.0f} s for a {megabytes} MB {field}"
    assert int(peak.read_text()) < 2000, f"peak RSS {peak.read_text()} MB for a {megabytes} MB {field}"
