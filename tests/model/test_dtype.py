"""`--dtype auto`: what it picks from what the CPU has, for inference on either engine and for training; its
override ($GRAM_CPU_BF16) and that override's bad value; a judge loaded in bf16 keeps the Scorer contract."""

from __future__ import annotations

import pytest

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
    """bf16 where the CPU multiplies it in hardware, for inference on the transformers engine (its label
    logits are read in fp32 whatever the body's dtype); training stays fp32; vLLM, which computes its LM head
    in the model's dtype, stays fp32 (issue 45: bf16 label logits tie nearby judgements)."""
    import torch

    from gram.model import backbone
    from gram.scoring import vllm_start as vllm_judge

    fake_cpuinfo(monkeypatch, tmp_path, flags)
    cpu = torch.device("cpu")
    assert vllm_judge.engine_dtype("auto") == vllm_judge.engine_dtype(None) == "float32"
    assert vllm_judge.engine_dtype("bfloat16") == "bfloat16"
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
