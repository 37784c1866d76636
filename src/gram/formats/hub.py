"""Formats users bring from the Hugging Face hub: local parquet files read with `datasets`, CSV / TSV
files read as text (gram.formats.base.read_csv_file), local json /
jsonl files read as JSON (each value keeps its own type and each error its line: pyarrow would give a
column one type and turn the string "1.5" into a number), or, where the hub is reachable, a dataset id
such as `allenai/reward-bench`."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .base import Item, input_files, read_csv_file, read_json_file

PATTERNS = ("*.parquet", "*.jsonl", "*.json", "*.jsonl.gz", "*.csv", "*.tsv")


def quiet_datasets():
    """The `datasets` library (a second to import), without its logging and progress bars."""
    import datasets

    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    return datasets


def dataset_items(path: Path, split: str = "train"):
    """Rows as items (index = row number). A path that does not exist may name a hub dataset, `org/name`
    or `org/name:split` (default split: train). `datasets` is imported for parquet and hub ids only."""
    hub_id, _, named_split = str(path).partition(":")
    if not path.exists() and hub_id.count("/") == 1 and not hub_id.startswith((".", "/")):
        from ..model.backbone import hub_reachable

        if not hub_reachable():
            raise InputError(path, None, None, "no such file, and the hub cannot be reached to load it as a dataset id")
        try:
            rows = quiet_datasets().load_dataset(hub_id, split=named_split or split)
        except Exception as err:  # datasets raises several types for a missing id or split
            raise InputError(path, None, None, f"cannot load it from the hub: {err}") from None
        for i, row in enumerate(rows):
            yield Item(path, i, row)
        return
    for f in input_files(path, PATTERNS):
        if f.suffix in (".csv", ".tsv"):
            yield from read_csv_file(f)
            continue
        if f.suffix != ".parquet":
            yield from read_json_file(f)
            continue
        try:
            rows = quiet_datasets().load_dataset("parquet", data_files=str(f), split="train")
        except Exception as err:  # datasets wraps parse errors in several types
            raise InputError(f, None, None, f"cannot read as parquet: {err}") from None
        if len(rows) == 0:
            raise InputError(f, None, None, "empty file: no records")
        for i, row in enumerate(rows):
            yield Item(f, i, row)
