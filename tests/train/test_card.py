"""gram.train.card: the model card names the line of models a run was trained from, down to the released base."""

import json

from gram.train.card import lineage


def test_the_model_card_names_the_released_base(tmp_path):
    stage1, stage2 = tmp_path / "stage1", tmp_path / "stage2"
    stage1.mkdir()
    stage2.mkdir()
    (stage1 / "train_summary.json").write_text(json.dumps({"base_model": "smollm2-135m"}))
    (stage2 / "train_summary.json").write_text(json.dumps({"base_model": str(stage1)}))
    assert lineage(str(stage2)) == [str(stage2), str(stage1), "smollm2-135m"]
    assert lineage("org/model") == ["org/model"]
