"""Helpers that test files in several folders share, imported as `from helpers import ...`: tests/ is on
sys.path (pytest's default import mode puts conftest.py's folder there), while `tests.helpers` would not do
(verl's wheel installs a top-level `tests` package)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import strategies as st

from gram.io import read_jsonl
from gram.records import Pair, PreferencePair, pair_from_row
from gram.scoring import as_pair, combine

ROOT = Path(__file__).resolve().parent.parent  # the checkout
SHARED_DATA = Path(os.environ.get("GRAM_SHARED_DATA", ROOT.parent / "shared" / "data"))  # ../shared/data


# The command line in a subprocess, on files of pairs (jobs and training runs).
def gram(*args) -> list[str]:
    return [sys.executable, "-m", "gram.cli", *map(str, args)]


def write_pairs(path, n=16):
    rows = []
    for i in range(n):
        good, bad = f"The answer {i} is right.", f"no {i}"
        rows.append(PreferencePair.from_preference(f"Question {i}?", good, bad, source="t").to_row())
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def kill_when(cmd, ready, timeout=120.0) -> None:
    """Start `cmd`, SIGKILL it as soon as `ready()` holds; fail if it ended by itself first."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"finished (exit {proc.returncode}) before it could be killed: {proc.stderr.read()[-2000:]}")
        if time.time() > deadline:
            proc.kill()
            pytest.fail("timed out waiting to kill")
        time.sleep(0.01)
    proc.kill()
    proc.wait()


def step_of(checkpoint: str | None) -> int:
    return int(checkpoint.rsplit("-", 1)[1]) if checkpoint else 0


def read_rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


# Pairs a reasoning judge reads, and the answer the tiny format model is taught (conftest.rr_format_model_dir).
RR_PAIRS = [Pair("What is 2+2?", "4", "5"), Pair("Name a colour.", "Blue.", "the quick brown fox"),
            Pair("Say hi.", "Hello there!", "no"), Pair("Capital of France?", "Paris.", "Lyon, I think."),
            Pair("A prime?", "7", "8"), Pair("Largest planet?", "Jupiter", "Mars"),
            Pair("2+3?", "5", "6"), Pair("Sky colour?", "Blue", "Green")]
RR_ANSWER = "<think>\nFeedback:\nfine\n</think>\n<answer>\nA\n</answer>"


# One pair, and pairs whose scores every Scorer must agree on.
PAIR = {"prompt": "q", "response_a": "a", "response_b": "b"}
PAIRS = [Pair("What is 2+2?", "4", "5"),
         Pair([{"role": "user", "content": "Hi"}], "Hello!", "Go away, I am busy with other things."),
         Pair("Name a colour.", "the quick brown fox " * 5, "Blue."),
         Pair("What is 2+2?", "It is 4.", "four"),
         Pair("def f(x): return x * x", "It squares x.", "It doubles x, which is the same as adding it to itself.")]
FP32_TOLERANCE = 1e-5  # vLLM fp32 against transformers fp32, and across batch compositions, on the CPU


# Hostile bytes: a good line, files that break in a known place, and the reader of scoring's rows.
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


# JSON values for fuzzing: field names the readers and endpoints look for, and hostile text.
FIELDS = ["prompt", "response_a", "response_b", "label", "chosen", "rejected", "id", "role", "content", "pairs",
          "lists", "responses", "prompts", "references", "query", "strategy", "budget", "center", "\ud800"]
TEXT_OK = st.text(max_size=12) | st.sampled_from(["", "A" * 2000, "<|im_end|>", "#Preferred: A", "[The End of Assistant"])
TEXT = TEXT_OK | st.sampled_from(["\ud800", "\udfff x"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=True) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=4), inner,
                                                                 max_size=5),
    max_leaves=20)


# `gram serve`: a judge whose preferences are known, and the real command on a free port.
class NumberJudge:
    """Prefers the response with the higher number; sleeps per call so concurrent requests can pile up."""

    def __init__(self, delay: float = 0.0):
        self.delay, self.calls, self.lock = delay, [], threading.Lock()

    def compare_many(self, pairs, **_):
        with self.lock:
            self.calls.append(len(pairs))
        time.sleep(self.delay)
        out = []
        for p in map(as_pair, pairs):
            d = int(p.response_a) - int(p.response_b)
            q = 1 / (1 + math.exp(-d))
            out.append(combine(q, 1 - q))
        return out


@contextlib.contextmanager
def running_server(model_dir, *flags, terminate: bool = True):
    """`gram serve` in a subprocess on a free loopback port; yields its base URL (with `terminate=False`:
    the URL and the process, which the caller stops)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "gram.cli", "serve", "--model", str(model_dir), "--port",
                             str(port), "--log-level", "warning", *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not come up: " + proc.stdout.read())
        yield base if terminate else (base, proc)
    finally:  # SIGTERM also where the caller's test failed first: SIGKILL would orphan a vLLM engine's processes
        proc.terminate()
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        # uvicorn shuts down gracefully on SIGTERM, then re-raises it so the exit status tells why it stopped
        assert code in (0, -15)


@contextlib.contextmanager
def vllm_openai_server(model_dir, *flags):
    """A real vLLM OpenAI-compatible server (`python -m vllm.entrypoints.openai.api_server`, what `vllm
    serve` and verl's reward-model servers run) of `model_dir`, fp32 and eager on the CPU; yields its
    address "127.0.0.1:port", as verl's router gives it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "VLLM_CPU_NUM_OF_RESERVED_CPU": "0", "VLLM_LOGGING_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
                             "--port", str(port), "--host", "127.0.0.1", "--dtype", "float32", "--enforce-eager",
                             "--kv-cache-memory-bytes", str(256 << 20), "--max-model-len", "2048", *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if proc.poll() is not None:
                    pytest.fail("vllm server exited: " + proc.stdout.read()[-2000:])
                time.sleep(0.5)
        else:
            pytest.fail("vllm server did not come up")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


# The GRAM reference's judge prompt (evaluation/gram_eval.py @4eff957, `system_prompt`, copied verbatim, its
# trailing space included, into a fixture that benchmarks/scoring.py reads too), pairs and rendering.
REFERENCE_PROMPT = (Path(__file__).parent / "fixtures" / "gram_eval_system_prompt.txt").read_text(encoding="utf-8")
REFERENCE_PAIRS = [("What is 2+2?", "4", "It is 5."),
                   ("Write a haiku about rain.",
                    "Soft rain on the roof,\nthe gutters hum a low song,\nnight drinks it all in.",
                    "Rain.\n\n- a list\n- of things")]


def reference_render(tok, question, a, b, **variables):
    """gram_eval.py: one user message, apply_chat_template(tokenize=False, add_generation_prompt=True,
    enable_thinking=False), then tokenizer(prompt) with its default special tokens."""
    messages = [{"role": "user", "content": REFERENCE_PROMPT.format(input=question, response_a=a, response_b=b)}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False,
                                   **variables)
    return text, tok(text)["input_ids"]


# The code blocks of a Markdown file (the docs test runs them; verl's tests read RLHF.md's yaml).
SKIP_MARKERS = ("<!-- demo-command -->", "<!-- test-command -->", "<!-- docs-test: skip")
FENCE = re.compile(r"^```(\S*)\s*$")


def code_blocks(path: Path, language: str = "bash") -> list[tuple[int, str, bool]]:
    """(line, text, runnable) of each block in `language`; runnable unless the line before it is a skip
    marker."""
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        if match.group(1) == language:
            before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            blocks.append((i + 1, "\n".join(lines[i + 1:end]), not before.startswith(SKIP_MARKERS)))
        i = end + 1
    return blocks


# verl's own reward loop: rollouts, its config with docs/RLHF.md's fragments, its worker.
ROLLOUTS = [("u1", "What is 2+2?", "4"), ("u2", "Name a colour.", "Blue."), ("u1", "What is 2+2?", "5"),
            ("u2", "Name a colour.", "the quick brown fox"), ("u1", "What is 2+2?", "It is 4."),
            ("u2", "Name a colour.", "Red, or green.")]
DOC = Path(__file__).resolve().parent.parent / "docs" / "RLHF.md"
DOC_URL, DOC_MODEL = "http://127.0.0.1:8000", "wangclnlp/GRAM-Qwen3-1.7B-RewardModel"


def doc_fragment(marker: str, **replace: str) -> str:
    """The one ```yaml block of docs/RLHF.md holding `marker`, as written but for `replace`'s strings."""
    blocks = [text for _, text, _ in code_blocks(DOC, "yaml") if marker in text]
    assert len(blocks) == 1, f"docs/RLHF.md has {len(blocks)} yaml blocks with {marker!r}"
    for old, new in replace.items():
        assert old in blocks[0]
        blocks[0] = blocks[0].replace(old, new)
    return blocks[0]


def verl_config(model_dir, fragment: str = "", *overrides: str):
    """verl's own ppo_trainer config (hydra, from the installed package), the tiny model as the policy, a
    docs fragment merged in, then `overrides` (dotted keys)."""
    verl = pytest.importorskip("verl", reason="verl is not installed (pip install --no-deps verl==0.9.1; see .ci/run)")
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    config_dir = Path(verl.__file__).parent / "trainer" / "config"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        config = compose(config_name="ppo_trainer", overrides=[f"actor_rollout_ref.model.path={model_dir}",
                                                                "reward.num_workers=1"])
    OmegaConf.set_struct(config, False)  # a fragment may add keys (reward_kwargs), as `+key=` does in hydra
    return OmegaConf.merge(config, OmegaConf.create(fragment or "{}"), OmegaConf.from_dotlist(list(overrides)))


def rollouts(tokenizer, rows, references=None):
    """A DataProto as verl's agent loop hands the reward loop: left-padded prompts, right-padded responses."""
    import numpy as np
    import torch
    from verl import DataProto

    prompt_ids = [tokenizer(prompt)["input_ids"] for _, prompt, _ in rows]
    response_ids = [tokenizer(response)["input_ids"] for _, _, response in rows]
    p_len, r_len = max(map(len, prompt_ids)), max(map(len, response_ids)) + 2
    prompts = torch.tensor([[0] * (p_len - len(p)) + p for p in prompt_ids])
    responses = torch.tensor([r + [0] * (r_len - len(r)) for r in response_ids])
    mask = torch.tensor([[0] * (p_len - len(p)) + [1] * (len(p) + len(r)) + [0] * (r_len - len(r))
                         for p, r in zip(prompt_ids, response_ids)])
    refs = references or [None] * len(rows)
    return DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "input_ids": torch.cat([prompts, responses], 1),
                 "attention_mask": mask, "position_ids": (mask.cumsum(1) - 1).clamp(min=0)},
        non_tensors={"data_source": np.array(["mine"] * len(rows), dtype=object),
                     "reward_model": np.array([{"ground_truth": ref} for ref in refs], dtype=object),
                     "extra_info": np.array([{"question": prompt} for _, prompt, _ in rows], dtype=object),
                     "uid": np.array([uid for uid, _, _ in rows], dtype=object)})


def run_worker(config, data, router=None):
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    worker = RewardLoopWorker(config, reward_router_address=router)
    return worker, worker.loop.run_until_complete(worker.compute_score_batch(data))
