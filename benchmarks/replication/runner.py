"""Running a plan's stages: each a separate process (`gram pretrain|finetune|adapt|train-bt|eval|score`, or
the data build in-process), logged to RUN/logs/<stage>.log. A stage is done when RUN/done/<stage>.json exists
(written atomically after it succeeds, with its wall time over every attempt); an interrupted training stage
resumes from its last checkpoint, an interrupted evaluation from its last finished benchmark."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from .archive import DATA_STAGE, archive_stage, restore, stages_to_run
from .build import stages

ROOT = Path(__file__).resolve().parents[2]


def done_path(run: Path, name: str) -> Path:
    return run / "done" / f"{name}.json"


def attempts_path(run: Path, name: str) -> Path:
    return run / "logs" / f"{name}.attempts.json"


def start_attempt(run: Path, name: str) -> None:
    """Record when this attempt started; close an earlier killed attempt at its log's last write."""
    from gram.io import write_json_atomic

    path, log = attempts_path(run, name), run / "logs" / f"{name}.log"
    attempts = json.loads(path.read_text()) if path.exists() else []
    if attempts and attempts[-1][1] is None:
        attempts[-1][1] = log.stat().st_mtime if log.exists() else attempts[-1][0]
    write_json_atomic(path, attempts + [[time.time(), None]])


def finish_attempt(run: Path, name: str) -> float:
    """Close this attempt; the stage's wall time is the sum over its attempts (time between sessions not counted)."""
    from gram.io import write_json_atomic

    path = attempts_path(run, name)
    attempts = json.loads(path.read_text())
    attempts[-1][1] = time.time()
    write_json_atomic(path, attempts)
    return sum(end - start for start, end in attempts)


def run_commands(stage, log: Path) -> None:
    """The stage's commands in order, each skipped when what it creates is there already."""
    for command, creates in zip(stage.commands, stage.creates):
        if creates and Path(creates).exists():
            continue
        command = [sys.executable, "-m", "gram.cli", *command[1:]]  # this interpreter's gram, whatever PATH says
        with open(log, "a") as f:
            f.write(f"\n$ gram {' '.join(command[3:])}\n")
            f.flush()
            rc = subprocess.call(command, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
        if rc != 0:
            raise SystemExit(f"[replicate] {stage.name} failed (exit {rc}): see {log}")


def run_stage(run: Path, stage, archive: Path) -> None:
    from gram.io import write_json_atomic

    log = run / "logs" / f"{stage.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    start_attempt(run, stage.name)
    print(f"[replicate] {stage.name}: started {time.strftime('%H:%M:%S')}, log {log}", flush=True)
    if stage.python:
        stage.python(run)
    run_commands(stage, log)
    seconds = finish_attempt(run, stage.name)
    write_json_atomic(done_path(run, stage.name), {"stage": stage.name, "seconds": round(seconds, 1),
                                                   "finished": time.strftime("%Y-%m-%d %H:%M:%S")})
    if stage.name != DATA_STAGE:
        archive_stage(run, stage, archive)
    if stage.after:
        stage.after(run)
    print(f"[replicate] {stage.name}: done in {seconds / 60:.1f} min", flush=True)


def listing(plan, run: Path) -> list[str]:
    """One line a stage: its name, and done with its wall time or still to do."""
    lines = []
    for s in stages(plan, run):
        d = done_path(run, s.name)
        state = f"done, {json.loads(d.read_text())['seconds'] / 60:.1f} min" if d.exists() else "to do"
        lines.append(f"{s.name:24s} {state}")
    return lines


def run_plan(plan, run: Path, archive: Path, wanted: set[str]) -> None:
    """Build the data if needed, restore the archive, then run every stage not yet done (those in `wanted`
    alone, where given). The plan is read again after each stage: later stages use the settings tuned by
    earlier ones."""
    if not done_path(run, DATA_STAGE).exists():
        run_stage(run, stages(plan, run)[0], archive)
    restored = restore(run, archive)
    if restored:
        print(f"[replicate] restored from {archive}: {', '.join(restored)}", flush=True)
    ran: set[str] = set()
    while True:
        todo = [s for s in stages_to_run(run, stages(plan, run), lambda s: done_path(run, s.name).exists())
                if s.name not in ran and (not wanted or s.name in wanted)]
        if not todo:
            return
        run_stage(run, todo[0], archive)
        ran.add(todo[0].name)
