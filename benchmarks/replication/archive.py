"""A run's archive: what its report needs, kept in git so that a run can span sessions.

A session's machine is gone when it ends, runs/ with it. After each stage finishes, its done marker (with
its wall time) and what it scored go to the run's archive, benchmarks/results/<run>/: for an evaluation,
each benchmark's results.json and scores without the pairs' text (label and scores only: nothing of the
data sets); for `gram score` (the blind set), each row's id and scores. A later run on a fresh machine
rebuilds the data (seeded, minutes), checks that every file the archive was made from is byte-identical
(files added since, for stages added since, may join), and puts the archived stages back as done; a
finished training stage runs again only if a stage still to do needs its model (models are 538 MB each
and are never committed). The data stage itself is never archived: every machine rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "results"
DATA_STAGE = "data"
EVAL_KEYS = ("label", "score_a", "score_b", "p_a_ab", "p_a_ba", "truncated")  # of `gram eval`'s scores.jsonl
SCORE_KEYS = ("id", "score_a", "score_b", "p_a_ab", "p_a_ba", "truncated")  # of `gram score`'s output


def archive_dir(plan) -> Path:
    return RESULTS / plan.RUN_DIR


def data_hashes(run: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((run / "data").glob("*.jsonl"))}


def eval_dirs(stage) -> list[Path]:
    """The per-benchmark output folders of an evaluation stage (empty for a training stage)."""
    return [Path(c).parent for c in stage.creates if c and c.endswith("reliability.png")]


def scored_files(stage) -> list[Path]:
    """The files `gram score` writes in a stage (the blind set's scores)."""
    return [Path(c) for c in stage.creates if c and c.endswith("scores.jsonl")]


def same_data(kept: dict[str, str], hashes: dict[str, str]) -> bool:
    """Every file the archive was made from is in the run, byte-identical; the run may have more."""
    return all(hashes.get(name) == digest for name, digest in kept.items())


def keep_rows(source: Path, target: Path, keys: tuple[str, ...]) -> None:
    """source's JSON lines with only `keys` (never the pairs' text), written to target."""
    from gram.io import write_jsonl_atomic

    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    target.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(target, ({k: r[k] for k in keys if k in r} for r in rows))


def keep_outputs(run: Path, stage, archive: Path) -> None:
    """Copy what a finished stage scored into `archive`, at the same place under it as under `run`."""
    for folder in eval_dirs(stage):
        target = archive / folder.relative_to(run)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / "results.json", target / "results.json")
        keep_rows(folder / "scores.jsonl", target / "scores.jsonl", EVAL_KEYS)
    for scores in scored_files(stage):
        keep_rows(scores, archive / scores.relative_to(run), SCORE_KEYS)


def archive_stage(run: Path, stage, archive: Path) -> None:
    """Copy a finished stage's done marker and what it scored (no pair text) into `archive`."""
    from gram.io import write_json_atomic

    hashes = data_hashes(run)
    kept = archive / "data.json"
    if kept.exists() and not same_data(json.loads(kept.read_text()), hashes):
        raise SystemExit(f"replicate: {archive} holds results of other data (sizes or sources changed); "
                         "move it away to start a new archive")
    write_json_atomic(kept, hashes)
    keep_outputs(run, stage, archive)
    done = Path("done") / f"{stage.name}.json"
    (archive / "done").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / done, archive / done)


def restore(run: Path, archive: Path) -> list[str]:
    """Put archived stages back into `run` (never over a file there); the names of the stages restored.
    Nothing is restored unless every data file the archive was made from is byte-identical in the run."""
    kept = archive / "data.json"
    if not kept.exists():
        return []
    if not same_data(json.loads(kept.read_text()), data_hashes(run)):
        print(f"replicate: {archive} was made from other data; not restored", flush=True)
        return []
    restored = []
    for path in sorted(p for p in archive.rglob("*") if p.is_file() and p != kept):
        target = run / path.relative_to(archive)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            if path.parent.name == "done":
                restored.append(path.stem)
    return restored


def arguments(stage, flag: str) -> list[str]:
    return [c[i + 1] for c in stage.commands for i, a in enumerate(c[:-1]) if a == flag]


def stages_to_run(run: Path, stages, is_done) -> list:
    """Stages not done, plus any done training stage whose model is gone but is read by one of them
    (walked backwards, so a chain such as stage1 -> gram -> adapt-gram comes back whole)."""
    models = run / "models"
    todo = {s.name for s in stages if not is_done(s)}
    makers = {Path(out).name: s.name for s in stages for out in arguments(s, "--output-dir")
              if Path(out).parent == models}
    for s in reversed(stages):
        if s.name in todo:
            for model in arguments(s, "--model"):
                if Path(model).parent == models and not Path(model).exists() and Path(model).name in makers:
                    todo.add(makers[Path(model).name])
    return [s for s in stages if s.name in todo]
