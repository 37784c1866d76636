"""The shipped YAML configs parse into their commands' config classes (every key known, every type right)."""

import argparse
import json
from pathlib import Path

import pytest

from gram.options import from_args
from gram.train.config import AdaptConfig, FinetuneConfig, PretrainConfig

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))
CLASSES = {"pretrain": PretrainConfig, "finetune": FinetuneConfig, "adapt": AdaptConfig}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_config_parses(path):
    (stage,) = [s for s in CLASSES if s in path.stem]
    config = from_args(CLASSES[stage], argparse.Namespace(config=str(path)))
    assert config.train_file and config.output_dir
    if config.deepspeed:
        assert json.loads((path.parents[1] / config.deepspeed).read_text())["zero_optimization"]["stage"] == 3


def test_flags_override_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train_file: a.jsonl\noutput_dir: out\nlearning_rate: 3.0e-5\n")
    config = from_args(FinetuneConfig, argparse.Namespace(config=str(path), learning_rate=1e-6, both_orders=False))
    assert (config.learning_rate, config.both_orders, config.label_smoothing, config.epochs) == (1e-6, False, 0.1, 2.0)
    adapt = from_args(AdaptConfig, argparse.Namespace(config=str(path)))
    assert adapt.epochs == 3.0 and adapt.learning_rate == 3e-5  # adapt's own defaults, the file's rate
