"""The options of each `gram data` command, as gram.options dataclasses: the input every command reads
(and the output most write), then the command's own."""

from __future__ import annotations

from dataclasses import dataclass

from ..formats import FORMATS
from ..model import backbone
from ..options import opt
from ..templates import JUDGE_TEMPLATES

FORMAT_HELP = "input format (default gram): " + ", ".join(sorted(FORMATS))
OUTPUTS = ("gram", "gram-finetune", "gram-pretrain")


@dataclass
class DataFiles:
    input: str | None = opt(None, "file or directory (or, for hub formats, a dataset id)", required=True)
    format: str | None = opt("gram", FORMAT_HELP)
    output: str | None = opt(None, "file to write (atomically)", required=True)
    skip_bad: bool = opt(False, "write bad records with their reasons to a side file and go on, instead of stopping")
    rejects: str | None = opt(None, "side file for --skip-bad (default OUTPUT.rejects.jsonl)")


@dataclass
class ReadFiles(DataFiles):
    """Commands that only read (stats, validate, split: its outputs are its own)."""

    output: str | None = opt(None, flag=False)


@dataclass
class ConvertOptions(DataFiles):
    format: str | None = opt(None, FORMAT_HELP.replace("(default gram)", "(required)"), required=True)
    to: str = opt("gram", "gram: JSONL rows (default); gram-finetune / gram-pretrain: the GRAM reference repo's JSON",
                  choices=OUTPUTS)
    template: str = opt("gram", "judge prompt for --to gram-finetune (default gram, the reference fine-tuning prompt)",
                        choices=JUDGE_TEMPLATES)
    chosen_first: bool = opt(False, "put the chosen response first (label a) instead of a content-hash placement "
                                    "(half b)")


@dataclass
class PairsOptions(DataFiles):
    per_prompt: int | None = opt(None, "pairs sampled per set (default: all n(n-1)/2)", at_least=1)
    seed: int = opt(0, "seed for sampling and placement (default 0)")
    both_orders: bool = opt(False, "also write each pair swapped")
    drop_labels: bool = opt(False, "labeled pairs become unlabeled (for stage 1)")
    keep_ties: bool = opt(False, "keep pairs labeled tie (dropped by default)")
    keep_duplicates: bool = opt(False, "do not deduplicate")
    balance_length: bool = opt(False, "within buckets of relative length difference, keep as many pairs whose "
                                      "preferred response is the longer as the shorter (the larger side sampled "
                                      "down, seeded)")
    max_tokens: int | None = opt(None, "drop pairs whose judge prompt is longer", at_least=1)
    model: str = opt(backbone.DEFAULT_MODEL, "tokenizer for --max-tokens")


@dataclass
class StatsOptions(ReadFiles):
    quiet: bool = opt(False, "no progress bar")
    model: str = opt(backbone.DEFAULT_MODEL, "tokenizer for lengths")
    no_tokens: bool = opt(False, "counts only, no tokenizer")


@dataclass
class ValidateOptions(ReadFiles):
    pass


@dataclass
class SplitOptions(ReadFiles):
    EXCLUSIVE = (("test_size", "test_fraction"),)

    test_size: int | None = opt(None, "records in the test side (whole prompts: may be a few more)", at_least=0)
    test_fraction: float | None = opt(None, "share of the records in the test side", at_least=0, at_most=1)
    seed: int = opt(0, "seed for the prompt order (default 0)")
    train_out: str | None = opt(None, "JSONL for the training side", required=True)
    test_out: str | None = opt(None, "JSONL for the test side", required=True)


@dataclass
class OverlapOptions:
    a: str | None = opt(None, "first set: a file or directory (e.g. the training split)", positional=True,
                        metavar="SET_A")
    b: str | None = opt(None, "second set: a file or directory (e.g. the test split)", positional=True,
                        metavar="SET_B")
    format_a: str = opt("gram", FORMAT_HELP)
    format_b: str = opt("gram", FORMAT_HELP)
    check: bool = opt(False, "exit 1 when any prompt is shared")
