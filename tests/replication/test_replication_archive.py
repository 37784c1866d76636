"""The replication's archive: results carried to a fresh machine, training re-run only where needed."""

import json
from pathlib import Path

import pytest

from benchmarks.replication.archive import archive_stage, restore, stages_to_run
from benchmarks.replication.build import stages as plan_stages
from benchmarks.replication.plans import small


def fake_run(root: Path, data: str = "x") -> Path:
    run = root / "run"
    (run / "data").mkdir(parents=True)
    (run / "data" / "hh-test.jsonl").write_text(data)
    return run


def finish(run: Path, stage, rows=None) -> None:
    from gram.io import write_json_atomic

    for folder in (Path(c).parent for c in stage.creates if c):
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps({"overall": 0.5}))
        (folder / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_json_atomic(run / "done" / f"{stage.name}.json", {"stage": stage.name, "seconds": 60.0, "finished": "t"})


def test_results_come_back_on_a_fresh_machine_without_the_pairs_text(tmp_path):
    run = fake_run(tmp_path / "a")
    stage = next(s for s in plan_stages(small, run) if s.name == "adapt-eval-gram")
    row = {"prompt": "secret", "response_a": "r1", "response_b": "r2", "label": "a", "score_a": 0.7,
           "score_b": 0.3, "p_a_ab": 0.8, "p_a_ba": 0.4, "truncated": False}
    finish(run, stage, [row])
    archive = tmp_path / "archive"
    archive_stage(run, stage, archive)
    kept = (archive / "adapt-eval" / "gram" / "hh-test" / "scores.jsonl").read_text()
    assert "secret" not in kept and json.loads(kept) == {k: row[k] for k in row if k not in
                                                         ("prompt", "response_a", "response_b")}

    fresh = fake_run(tmp_path / "b")
    assert restore(fresh, archive) == ["adapt-eval-gram"]
    assert (fresh / "done" / "adapt-eval-gram.json").exists()
    assert (fresh / "adapt-eval" / "gram" / "hh-test" / "scores.jsonl").read_text() == kept

    grown = fake_run(tmp_path / "d")  # a data file added since (for a stage added since): still restored
    (grown / "data" / "summ-test.jsonl").write_text("z")
    assert restore(grown, archive) == ["adapt-eval-gram"]

    other = fake_run(tmp_path / "c", data="y")  # other data: nothing restored, and no new archive over it
    assert restore(other, archive) == []
    finish(other, next(s for s in plan_stages(small, other) if s.name == "adapt-eval-bt"), [row])
    with pytest.raises(SystemExit, match="other data"):
        archive_stage(other, next(s for s in plan_stages(small, other) if s.name == "adapt-eval-bt"), archive)


def test_a_done_training_stage_runs_again_only_when_a_stage_to_do_needs_its_model(tmp_path):
    run = tmp_path / "run"
    stages = plan_stages(small, run)
    names = [s.name for s in stages_to_run(run, stages, lambda s: s.name != "adapt-eval-adapt-gram-50")]
    assert names == ["stage1", "gram", "adapt-gram-50", "adapt-eval-adapt-gram-50"]
    assert [s.name for s in stages_to_run(run, stages, lambda s: s.name != "eval-zero-shot")] == ["eval-zero-shot"]
    (run / "models" / "gram").mkdir(parents=True)  # the model is still here: nothing before it runs again
    names = [s.name for s in stages_to_run(run, stages, lambda s: s.name != "adapt-eval-adapt-gram-50")]
    assert names == ["adapt-gram-50", "adapt-eval-adapt-gram-50"]


def test_report_before_the_data_stage_is_one_line_naming_the_stage_to_run(tmp_path, capsys):
    """Issue 35: `replicate.py --report` on a fresh machine was a FileNotFoundError traceback."""
    from benchmarks.replication.cli import main

    assert main(["--report", "--run-dir", str(tmp_path / "run")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("replicate: --report reads the data stage's files") and "--only data" in line
