"""Length-balanced training pairs (`gram data pairs --balance-length`)."""

from __future__ import annotations

import json
import random

from gram.cli import main
from gram.data.balance import balance_length, chosen_is_longer, relative_difference
from gram.records import PreferencePair


def fixture():
    pairs = []
    for i in range(10):  # relative difference 0.5 (bucket [0.5, 1]): the longer preferred
        pairs.append(PreferencePair(f"q{i}", "x" * 20, "y" * 10, "a"))
    for i in range(4):  # same bucket: the shorter preferred
        pairs.append(PreferencePair(f"r{i}", "x" * 20, "y" * 10, "b"))
    for i in range(3):  # bucket [0, 0.1): the longer preferred, none shorter: all dropped
        pairs.append(PreferencePair(f"s{i}", "x" * 21, "y" * 20, "a"))
    pairs += [PreferencePair("e", "x" * 5, "y" * 5, "a"), PreferencePair("u", "x" * 9, "y", None)]  # untouched
    return pairs


def test_each_bucket_ends_a_coin_flip_and_the_report_says_what_was_kept():
    pairs = fixture()
    kept, report = balance_length(pairs, random.Random(0))
    assert report["buckets"] == {"[0.5, 1]": {"chosen_longer": 10, "chosen_shorter": 4, "kept": 8},
                                 "[0, 0.1)": {"chosen_longer": 3, "chosen_shorter": 0, "kept": 0}}
    assert report["untouched"] == 2 and report["kept"] == len(kept) == 10
    decided = [p for p in kept if p.label in ("a", "b") and len(p.response_a) != len(p.response_b)]
    assert sum(map(chosen_is_longer, decided)) == sum(not chosen_is_longer(p) for p in decided) == 4
    assert [p.prompt for p in kept] == [p.prompt for p in pairs if p in kept]  # input order kept
    assert relative_difference(pairs[0]) == 0.5
    again, _ = balance_length(pairs, random.Random(0))
    assert again == kept  # seeded


def test_gram_data_pairs_balance_length(tmp_path, capsys):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(p.to_row()) + "\n" for p in fixture()))
    assert main(["data", "pairs", "--input", str(src), "--output", str(out), "--balance-length"]) == 0
    assert len(out.read_text().splitlines()) == 10
    assert "[0.5, 1] 10 / 4 -> 8" in capsys.readouterr().err
