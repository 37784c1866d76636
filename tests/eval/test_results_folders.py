"""`gram eval` names each model's results folder after the model directory's last component: results of
another model that share that name are never replaced silently, and comparison.md keeps every model whose
results are in the output folder."""

from __future__ import annotations

import json
import shutil

from gram.cli import main


def bench(tmp_path):
    path = tmp_path / "bench.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"q{i}", "response_a": "yes", "response_b": "no", "label": "a"})
                            + "\n" for i in range(3)))
    return path


def test_two_checkpoints_of_one_name_do_not_share_results(tmp_path, tiny_model_dir, capsys):
    first, second = tmp_path / "exp1" / "checkpoint-500", tmp_path / "exp2" / "checkpoint-500"
    shutil.copytree(tiny_model_dir, first)
    shutil.copytree(tiny_model_dir, second)
    out, data = tmp_path / "eval", bench(tmp_path)
    common = ["--benchmark", str(data), "--output", str(out), "--quiet", "--max-length", "1024"]
    assert main(["eval", "--model", str(first), *common]) == 0
    kept = (out / "checkpoint-500" / "bench" / "results.json").read_text()
    capsys.readouterr()
    assert main(["eval", "--model", str(second), *common]) == 2
    err = capsys.readouterr().err
    assert f"holds the results of {first}, not {second}" in err and len(err.strip().splitlines()) == 1
    assert (out / "checkpoint-500" / "bench" / "results.json").read_text() == kept
    assert main(["eval", "--model", str(first), *common, "--resume"]) == 0  # the same model goes on


def test_comparison_keeps_the_models_evaluated_earlier_into_the_folder(tmp_path, tiny_model_dir):
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    out, data = tmp_path / "eval", bench(tmp_path)
    common = ["--benchmark", str(data), "--output", str(out), "--quiet", "--max-length", "1024"]
    assert main(["eval", "--model", str(tiny_model_dir), *common]) == 0
    assert main(["eval", "--model", str(other), *common]) == 0
    header = (out / "comparison.md").read_text().splitlines()[0]
    assert str(other) in header and str(tiny_model_dir) in header
