"""`python benchmarks/replicate.py`: run, list, archive or report one of the replication's plans."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .archive import DATA_STAGE, archive_dir, archive_stage, restore
from .build import stages
from .plans import scaled, small
from .reports import scaled as scaled_report
from .reports import small as small_report
from .runner import ROOT, done_path, listing, run_plan

SCALES = {"small": (small, small_report), "scaled": (scaled, scaled_report)}  # scale -> (its plan, its report)
DOCS = ROOT / "docs" / "results"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="GRAM's claims replicated on the embedded backbone, stage by stage "
                                            "(resumable; finished stages are archived in benchmarks/results/).")
    p.add_argument("--scale", choices=SCALES, default="small",
                   help="small: the first run, 320 labeled pairs; scaled: issue 18's tuned run")
    p.add_argument("--run-dir", help="default: runs/replicate (small), runs/replicate-scaled (scaled)")
    p.add_argument("--only", action="append", help="run just this stage (repeatable)")
    p.add_argument("--list", action="store_true", help="list the stages, done or not, and stop")
    p.add_argument("--report", action="store_true", help="write docs/results/<scale>.md and its plots")
    p.add_argument("--archive", action="store_true", help="(again) copy every finished stage's results to the archive")
    return p


def write_report(scale: str, run: Path, docs: Path = DOCS) -> Path:
    """The scale's page, generated whole from the run (restored from its archive first), and its plots."""
    plan, report = SCALES[scale]
    restore(run, archive_dir(plan))
    docs.mkdir(parents=True, exist_ok=True)
    page = docs / f"{scale}.md"
    page.write_text(report.page(run, stages(plan, run), docs), encoding="utf-8")
    return page


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    plan, _ = SCALES[args.scale]
    run, archive = Path(args.run_dir or ROOT / "runs" / plan.RUN_DIR), archive_dir(plan)
    if args.list:
        print("\n".join(listing(plan, run)))
        return 0
    if args.archive:
        for s in stages(plan, run):
            if s.name != DATA_STAGE and done_path(run, s.name).exists():
                archive_stage(run, s, archive)
        return 0
    if args.report:
        if not done_path(run, DATA_STAGE).exists():  # the archive keeps results, not the data built from shared/
            print(f"replicate: --report reads the data stage's files in {run / DATA_STAGE}, not built yet: run "
                  f"`python benchmarks/replicate.py --scale {args.scale} --only {DATA_STAGE}` first (minutes; the "
                  "stages' results come from the archive)", file=sys.stderr)
            return 2
        print(f"wrote {write_report(args.scale, run)} and its plots")
        return 0
    os.environ.setdefault("GRAM_DATA", str(ROOT.parent / "shared" / "data"))
    if not Path(os.environ["GRAM_DATA"]).exists():
        print("replicate: ../shared/data not found (set GRAM_DATA); nothing to do", file=sys.stderr)
        return 0
    wanted = set(args.only or [])
    unknown = wanted - {s.name for s in stages(plan, run)}
    if unknown:
        parser().error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    run_plan(plan, run, archive, wanted)
    return 0
