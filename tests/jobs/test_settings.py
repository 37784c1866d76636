"""A job's settings (results.json, the `--resume` identity) record the dtype that ran, `auto` resolved:
it said `"dtype": "auto"` whatever ran."""

from __future__ import annotations

from argparse import Namespace

from gram.jobs.settings import judge_settings


def test_settings_record_the_resolved_dtype(tiny_model_dir, monkeypatch):
    args = Namespace(model=str(tiny_model_dir), engine="transformers", dtype="auto", device="cpu", template=None,
                     orders="both", max_length=None)
    assert judge_settings(args)["dtype"] == "float32"  # GRAM_CPU_BF16=0 (conftest)
    monkeypatch.setenv("GRAM_CPU_BF16", "1")  # a CPU with AMX or AVX512-BF16
    assert judge_settings(args)["dtype"] == "bfloat16"
    assert judge_settings(Namespace(**{**vars(args), "engine": "vllm"}))["dtype"] == "float32"
    assert judge_settings(Namespace(**{**vars(args), "dtype": "float16"}))["dtype"] == "float16"
