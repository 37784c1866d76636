"""`gram eval`'s benchmarks: named ones say where they are looked for, hub ones load by dataset id (or say
the hub cannot be reached), and benchmarks or models that would share a results folder are refused
before anything is scored."""

from __future__ import annotations

import json

from gram.cli import main


def test_named_benchmarks_say_where_they_are_looked_for(tmp_path, capsys, monkeypatch, tiny_model_dir):
    monkeypatch.setenv("GRAM_DATA", str(tmp_path))
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", "judgebench", "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "$GRAM_DATA" in err and "set GRAM_DATA" in err
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", "rewardbench3", "--output",
                 str(tmp_path / "o")]) == 2
    assert "not a named benchmark (known:" in capsys.readouterr().err


def test_named_hub_benchmarks_load_by_dataset_id(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """`--benchmark rewardbench` is allenai/reward-bench's filtered split where the hub is reachable
    (the hub call is mocked here); where it is not, one line says so."""
    import datasets

    from gram.model import backbone

    calls = []
    rows = [{"prompt": "2+2?", "chosen": "4", "rejected": "5", "subset": "math-prm", "id": 1,
             "chosen_model": "x", "rejected_model": "y"}]
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split=None, **k: calls.append((name, split)) or rows)
    monkeypatch.setattr(backbone, "hub_reachable", lambda *a, **k: False)
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", "rewardbench", "--output",
                 str(tmp_path / "o"), "--quiet"]) == 2
    assert "hub cannot be reached" in capsys.readouterr().err and not calls
    monkeypatch.setattr(backbone, "hub_reachable", lambda *a, **k: True)
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", "rewardbench", "--output",
                 str(tmp_path / "o"), "--quiet"]) == 0
    assert calls == [("allenai/reward-bench", "filtered")]
    (results,) = [json.loads(p.read_text()) for p in (tmp_path / "o").rglob("results.json")]
    assert results["data"]["benchmark"] == "rewardbench" and "rewardbench" in results


def test_eval_refuses_two_benchmarks_or_models_that_share_a_results_folder(tmp_path, tiny_model_dir, capsys):
    import shutil

    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "pairs.jsonl").write_text('{"prompt": "q", "response_a": "a", "response_b": "b", "label": "a"}\n')
    one, two = (shutil.copytree(tiny_model_dir, tmp_path / m / "run") for m in ("m1", "m2"))
    out = tmp_path / "results"
    bench = ["--benchmark", str(tmp_path / "d1" / "pairs.jsonl")]
    cases = [["--model", str(one), *bench, "--benchmark", str(tmp_path / "d2" / "pairs.jsonl")],
             ["--model", str(one), "--model", str(two), *bench],
             ["--model", str(one), *bench, *bench]]
    for args in cases:
        assert main(["eval", *args, "--output", str(out)]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert "needs a results folder of its own" in line
    assert not out.exists()  # refused before anything was scored or written
    assert main(["eval", "--model", str(one), "--model", str(tmp_path / "m3"), *bench, "--output", str(out)]) == 2
    assert "m3" in capsys.readouterr().err and not out.exists()  # a missing later model: before the first is scored
