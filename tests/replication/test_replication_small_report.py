"""The replication report's length-preference figure."""

import json
from pathlib import Path

import pytest

from benchmarks.replication.reports.small import length_split, picks_longer


def write(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_picks_longer_counts_only_pairs_with_a_preference_and_unequal_lengths(tmp_path):
    data = write(tmp_path / "d.jsonl", [
        {"response_a": "long answer", "response_b": "short"},   # model prefers a: longer
        {"response_a": "x", "response_b": "a longer one"},      # model prefers a: shorter
        {"response_a": "same", "response_b": "size"},           # equal lengths: not counted
        {"response_a": "long answer", "response_b": "short"},   # tie: not counted
    ])
    scores = write(tmp_path / "s.jsonl", [
        {"score_a": 0.7, "score_b": 0.3}, {"score_a": 0.6, "score_b": 0.4},
        {"score_a": 0.9, "score_b": 0.1}, {"score_a": 0.5, "score_b": 0.5},
    ])
    assert picks_longer(scores, data) == (1, 2)
    assert picks_longer(tmp_path / "missing.jsonl", data) is None


def test_picks_longer_refuses_scores_that_do_not_match_the_data(tmp_path):
    data = write(tmp_path / "d.jsonl", [{"response_a": "a", "response_b": "bb"}])
    scores = write(tmp_path / "s.jsonl", [{"score_a": 0.7, "score_b": 0.3}] * 2)
    with pytest.raises(ValueError, match="2 rows"):
        picks_longer(scores, data)


def test_length_split_pools_into_a_length_controlled_accuracy(tmp_path):
    data = write(tmp_path / "d.jsonl", [
        {"prompt": "q", "response_a": "long answer", "response_b": "short", "label": "a"},  # longer preferred, right
        {"prompt": "q", "response_a": "x", "response_b": "a longer one", "label": "b"},     # longer preferred, wrong
        {"prompt": "q", "response_a": "tiny", "response_b": "much longer", "label": "a"},   # shorter preferred, right
    ])
    scores = write(tmp_path / "s.jsonl", [
        {"score_a": 0.7, "score_b": 0.3, "p_a_ab": 0.7, "p_a_ba": 0.3},
        {"score_a": 0.6, "score_b": 0.4, "p_a_ab": 0.6, "p_a_ba": 0.4},
        {"score_a": 0.8, "score_b": 0.2, "p_a_ab": 0.8, "p_a_ba": 0.2},
    ])
    assert length_split(scores, data) == (1, 2, 1, 1)
