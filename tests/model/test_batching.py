"""gram.model.batching: the pad id a batch is padded with."""

from __future__ import annotations

from types import SimpleNamespace

from gram.model.batching import pad_id


def test_pad_id_keeps_an_id_of_zero():
    assert pad_id(SimpleNamespace(pad_token_id=0, eos_token_id=2)) == 0  # `pad or eos` would give 2
    assert pad_id(SimpleNamespace(pad_token_id=None, eos_token_id=0)) == 0
    assert pad_id(SimpleNamespace(pad_token_id=None, eos_token_id=None)) == 0
    assert pad_id(SimpleNamespace(pad_token_id=5, eos_token_id=2)) == 5
