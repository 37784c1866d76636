"""Model directories: a broken one is one line naming the file, one gram will not load (pickled weights
only, custom modelling code) is one line saying why, `--resume` knows which model it resumes (new weights
in the same directory are another model), and a judge with NaN logits is an error, never a score."""

import json
import shutil

import pytest
from helpers import GOOD
from safetensors.torch import load_file, save_file

from gram.model.files import ModelFileError
from gram.cli import main
from gram.jobs.partial import PartialOutput
from gram.model.files import check_files, identity


@pytest.fixture
def model_copy(tmp_path, tiny_model_dir):
    return shutil.copytree(tiny_model_dir, tmp_path / "model")


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def corrupt_header(path):
    data = bytearray(path.read_bytes())
    data[8:24] = b"\xff" * 16
    path.write_bytes(bytes(data))


BREAKAGES = {
    "truncated weights": ("model.safetensors", truncate, "truncated"),
    "corrupted header": ("model.safetensors", corrupt_header, "header is not JSON"),
    "empty weights": ("model.safetensors", lambda p: p.write_bytes(b""), "empty file"),
    "half a config": ("config.json", lambda p: p.write_text(p.read_text()[:40]), "not readable JSON"),
    "empty config": ("config.json", lambda p: p.write_text("{}"), "no model_type"),
    "no tokenizer": ("tokenizer.json", None, "holds no tokenizer"),
}


@pytest.mark.parametrize("case", BREAKAGES)
def test_a_broken_model_directory_is_one_line_naming_the_file(model_copy, tmp_path, capsys, case):
    name, breakage, said = BREAKAGES[case]
    if breakage is None:  # every tokenizer file removed
        for f in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model"):
            (model_copy / f).unlink(missing_ok=True)
    else:
        breakage(model_copy / name)
    with pytest.raises(ModelFileError, match=said):
        check_files(model_copy)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "q", "response_a": "a", "response_b": "b"}\n')
    assert main(["score", "--model", str(model_copy), "--input", str(pairs), "--output",
                 str(tmp_path / "out.jsonl"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and said in err[0] and str(model_copy) in err[0], err


def test_the_identity_changes_with_new_weights_in_the_same_directory(model_copy):
    before = identity(model_copy)
    assert "model.safetensors" in before and "config.json" in before
    weights = load_file(model_copy / "model.safetensors")
    name = next(iter(weights))
    weights[name] = weights[name] + 1
    save_file(weights, model_copy / "model.safetensors", metadata={"format": "pt"})
    assert identity(model_copy) != before


def test_score_resume_refuses_a_partial_output_of_other_weights(model_copy, tmp_path, capsys, monkeypatch):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": f"q{i}", "response_a": "a", "response_b": "b"}) + "\n"
                             for i in range(3)))
    out = tmp_path / "scores.jsonl"
    args = ["score", "--model", str(model_copy), "--input", str(pairs), "--output", str(out), "--quiet"]

    def killed(self):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(PartialOutput, "finish", killed)
        assert main(args) == 130  # the rows are in OUTPUT.partial, the run "killed" before it ended
    weights = load_file(model_copy / "model.safetensors")
    save_file({k: v * 1.01 for k, v in weights.items()}, model_copy / "model.safetensors", metadata={"format": "pt"})
    assert main([*args, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "written with other settings (model)" in err
    assert not out.exists()


@pytest.fixture
def nan_model(model_copy):
    weights = load_file(model_copy / "model.safetensors")
    head = next(k for k in weights if "lm_head" in k)
    weights[head] = weights[head] * float("nan")
    save_file(weights, model_copy / "model.safetensors", metadata={"format": "pt"})
    return model_copy


def test_a_judge_with_nan_logits_is_an_error_naming_the_pair_never_a_score(nan_model, tmp_path, capsys):
    from fastapi.testclient import TestClient

    from gram.scoring import load_judge
    from gram.scoring.base import NonFiniteScore
    from gram.serve import create_app

    judge = load_judge(str(nan_model))
    with pytest.raises(NonFiniteScore, match="prompt 'Which colour[?]'"):
        judge.compare("Which colour?", "blue", "red")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "q", "response_a": "a", "response_b": "b"}\n')
    out = tmp_path / "scores.jsonl"
    assert main(["score", "--model", str(nan_model), "--input", str(pairs), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "non-finite" in err[0] and not out.exists()  # before: "score_a": NaN, consistency 1.000
    with TestClient(create_app(judge)) as client:
        got = client.post("/compare", json={"pairs": [{"prompt": "q", "response_a": "a", "response_b": "b"}]})
    assert got.status_code == 500 and "non-finite" in got.json()["detail"]  # before: null with consistent: true


@pytest.mark.parametrize("case", ["pickle only", "custom code"])
def test_model_directories_gram_will_not_load_are_one_line_errors(tmp_path, tiny_model_dir, case, capsys):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    if case == "pickle only":
        (model / "model.safetensors").rename(model / "pytorch_model.bin")
        expected = "only pytorch_model.bin"
    else:
        config = json.loads((model / "config.json").read_text())
        config["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}
        (model / "config.json").write_text(json.dumps(config))
        expected = "custom modelling code"
    src = tmp_path / "in.jsonl"
    src.write_bytes(GOOD)
    assert main(["score", "--model", str(model), "--input", str(src), "--output", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gram: error:") and expected in err[0]
