"""Progress bars count what a user waits for in whole units: pairs scored (never `3.5/6`), and for
best-of-n the samples and comparisons as they happen."""

from __future__ import annotations

from gram.jobs.runner import WholePairs, score_rows
from gram.scoring import Judge


class RecordingBar:
    def __init__(self, n: int = 0):
        self.n, self.steps = n, []

    def update(self, k):
        self.steps.append(k)
        self.n += k


def test_a_judges_half_pairs_reach_the_bar_as_whole_pairs():
    bar = RecordingBar(n=2)
    whole = WholePairs(bar)
    for step in (0.5, 0.5, 0.5, 1.5, 0.5, 0.5):
        whole.update(step)
    assert bar.steps == [1, 2, 1] and bar.n == 6 and all(isinstance(k, int) for k in bar.steps)


def test_scoring_shows_whole_pairs(tiny_model, tiny_tokenizer, tmp_path, monkeypatch):
    import tqdm

    shown = []
    real = tqdm.tqdm

    class Spy(real):
        def update(self, n=1):
            shown.append(n)
            return super().update(n)

    monkeypatch.setattr(tqdm, "tqdm", Spy)
    judge = Judge(tiny_model, tiny_tokenizer, max_length=1024, batch_size=3)
    pairs = [{"prompt": f"q{i}", "response_a": "a" * i, "response_b": "b"} for i in range(7)]
    score_rows(judge, pairs, pairs, tmp_path / "s.jsonl", {}, resume=False, orders="both")
    assert sum(shown) == 7 and all(isinstance(n, int) for n in shown)


def test_best_of_n_shows_its_sampling_tokens_then_responses_and_comparisons(tiny_model_dir, tmp_path, capsys):
    import json

    from gram.cli import main

    out = tmp_path / "bon.jsonl"
    assert main(["bon", "--prompt", "hi", "--prompt", "yo", "--policy", str(tiny_model_dir), "--model",
                 str(tiny_model_dir), "--n", "3", "--max-new-tokens", "5", "--output", str(out),
                 "--max-length", "1024"]) == 0
    err = capsys.readouterr().err
    assert "sampling 3 for prompt 1" in err and "sampling 3 for prompt 2" in err and "token" in err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert f"6 responses, {sum(r['comparisons'] for r in rows)} comparisons" in err
