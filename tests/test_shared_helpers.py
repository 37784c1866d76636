"""The helpers that replaced near-copies: pad ids, atomic writes, generation."""

from __future__ import annotations

import os
import stat
from types import SimpleNamespace

import pytest

from gram.model.batching import pad_id
from gram.model.generation import generate
from gram.io import write_json_atomic, write_jsonl_atomic, write_text_atomic


def test_pad_id_keeps_an_id_of_zero():
    assert pad_id(SimpleNamespace(pad_token_id=0, eos_token_id=2)) == 0  # `pad or eos` would give 2
    assert pad_id(SimpleNamespace(pad_token_id=None, eos_token_id=0)) == 0
    assert pad_id(SimpleNamespace(pad_token_id=None, eos_token_id=None)) == 0
    assert pad_id(SimpleNamespace(pad_token_id=5, eos_token_id=2)) == 5


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


def test_generate_is_greedy_by_default_and_restores_the_mode(tiny_model, tiny_tokenizer):
    tiny_model.train()
    try:
        one = generate(tiny_model, tiny_tokenizer, "What is 2+2?", max_new_tokens=5)
        two = generate(tiny_model, tiny_tokenizer, [{"role": "user", "content": "What is 2+2?"}], max_new_tokens=5)
        assert tiny_model.training
    finally:
        tiny_model.eval()
    assert one == two and len(one) == 1
    sampled = generate(tiny_model, tiny_tokenizer, "Hi", n=3, do_sample=True, seed=0, max_new_tokens=5)
    assert len(sampled) == 3
    assert sampled == generate(tiny_model, tiny_tokenizer, "Hi", n=3, do_sample=True, seed=0, max_new_tokens=5)
