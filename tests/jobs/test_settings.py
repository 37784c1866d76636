"""A job's settings (results.json, the `--resume` identity) come from one JudgeSpec: the dtype that ran
(`auto` resolved: it said `"dtype": "auto"` whatever ran), the template the model was trained with, and
every field of the spec but those that only pace the work."""

from __future__ import annotations

from argparse import Namespace

from gram.jobs.settings import PACE_ONLY, JudgeSpec


def test_settings_record_the_resolved_dtype(tiny_model_dir, monkeypatch):
    args = Namespace(model=str(tiny_model_dir), engine="transformers", dtype="auto", device="cpu", template=None,
                     orders="both", max_length=None, batch_size=8, max_batch_tokens=None)

    def settings(**changed):
        return JudgeSpec.from_args(Namespace(**{**vars(args), **changed})).identity()

    assert settings()["dtype"] == "float32"  # GRAM_CPU_BF16=0 (conftest)
    monkeypatch.setenv("GRAM_CPU_BF16", "1")  # a CPU with AMX or AVX512-BF16
    assert settings()["dtype"] == "bfloat16"
    assert settings(engine="vllm")["dtype"] == "float32"
    assert settings(dtype="float16")["dtype"] == "float16"


def test_the_identity_is_every_setting_that_changes_a_score(tiny_model_dir, monkeypatch):
    """Resolved once: the trained template (gram-eval for a model gram did not train) and, for a command with
    the reasoning options, the protocol; every spec field joins the identity unless it only paces the work,
    so batch sizes and vLLM's parallelism never block a resume, and a new field is never forgotten."""
    from dataclasses import fields

    from gram.scoring.protocols import ReasoningOptions

    args = Namespace(model=str(tiny_model_dir), engine="vllm", dtype="float32", device=None, template=None,
                     orders="ab", max_length=512, batch_size=4, max_batch_tokens=99, tensor_parallel_size=2,
                     **{f.name: f.default for f in fields(ReasoningOptions)})
    spec = JudgeSpec.from_args(args)
    assert spec.template == "gram-eval" and spec.reasoning["protocol"] is None
    assert spec.engine_options == {"tensor_parallel_size": 2}
    identity = spec.identity()
    assert set(identity) == {f.name for f in fields(JudgeSpec)} - PACE_ONLY
    assert identity["model"]["name"] == str(tiny_model_dir) and identity["model"]["files"]
    assert (identity["orders"], identity["max_length"], identity["reasoning"]["samples"]) == ("ab", 512, 1)
    faster = JudgeSpec.from_args(Namespace(**{**vars(args), "batch_size": 64, "tensor_parallel_size": 1}))
    assert faster.identity() == identity
    assert JudgeSpec.from_args(Namespace(**{**vars(args), "think_seed": 1})).identity() != identity
