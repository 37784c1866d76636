"""Fuzz (hypothesis, bounded): `gram data`, `gram score` and the server's bodies never answer with a
traceback or a 5xx. Every failure is one line naming file:line and the field, or a 4xx naming the field.
(The readers alone: tests/test_hostile_files.py.)"""

from __future__ import annotations

import asyncio
import json

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gram.cli import main
from gram.scoring import as_pair, combine
from gram.serve import Limits, create_app

FIELDS = ["prompt", "response_a", "response_b", "label", "chosen", "rejected", "id", "role", "content", "pairs",
          "lists", "responses", "prompts", "references", "query", "strategy", "budget", "center", "\ud800"]
TEXT_OK = st.text(max_size=12) | st.sampled_from(["", "A" * 2000, "<|im_end|>", "#Preferred: A", "[The End of Assistant"])
TEXT = TEXT_OK | st.sampled_from(["\ud800", "\udfff x"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=True) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=4), inner,
                                                                 max_size=5),
    max_leaves=20)
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


class EchoJudge:
    def compare_many(self, pairs, **_):
        return [combine(0.3, 0.7) for _ in map(as_pair, pairs)]


BODY = JSON | st.fixed_dictionaries({}, optional={k: JSON for k in ("pairs", "lists", "prompts", "responses",
                                                                     "references", "query", "strategy", "budget")})


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["/compare", "/rank", "/reward", "/get_reward"]),
       BODY.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=60))
def test_fuzz_server_bodies(path, body):
    app = create_app(EchoJudge(), limits=Limits(max_items=8, max_list=8, max_chars=500))

    async def go():
        async with app.app.router.lifespan_context(app.app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://gram") as client:
                return await client.post(path, content=body, headers={"content-type": "application/json"})

    reply = asyncio.run(go())
    assert reply.status_code in (200, 413, 422), (reply.status_code, reply.text[:300])
    if reply.status_code != 200:
        detail = reply.json()["detail"]
        assert detail and (isinstance(detail, str) or all("loc" in d and "msg" in d for d in detail))


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
