"""Every reader on a small fixture built here: records, labels, categories, and located errors."""

import gzip
import json

import pytest

from gram.formats import FORMATS, read
from gram.formats.gram_reference import to_finetune, to_pretrain
from gram.io import InputError
from gram.records import PreferencePair, ResponseSet


def dump(path, obj, jsonl=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(o) + "\n" for o in obj) if jsonl else json.dumps(obj)
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def chosen_rejected(pair: PreferencePair):
    return pair.chosen, pair.rejected


def test_rmb_pairwise_and_bon(tmp_path):
    conv = [{"role": "user", "content": "Hi?", "language": "English"}]
    dump(tmp_path / "Pairwise_set/Harmlessness/S1.json", [
        {"pair_uid": "1", "conversation_input": conv, "chosen": {"llm_name": "m1", "answer": "good"},
         "reject": {"llm_name": "m2", "answer": "bad"}, "category_path": "Pairwise_set/Harmlessness/S1"}])
    dump(tmp_path / "BoN_set/Helpfulness/Summarization/x.json", [
        {"bon_uid": "7", "conversation_input": conv, "bon_best": {"llm_name": "m1", "answer": "best"},
         "loser_list": [{"llm_name": "m2", "answer": "l1"}, {"llm_name": "m3", "answer": "l2"}],
         "category_path": "BoN_set/Helpfulness/Summarization/x"}])
    (pair,) = read("rmb-pairwise", tmp_path / "Pairwise_set").records
    assert chosen_rejected(pair) == ("good", "bad") and pair.category == "Harmlessness/S1"
    assert pair.prompt == [{"role": "user", "content": "Hi?"}]
    assert pair.meta["model_a"] == ("m1" if pair.label == "a" else "m2")
    (s,) = read("rmb-bon", tmp_path / "BoN_set").records
    assert s.responses == ["best", "l1", "l2"] and s.best == 0 and s.models == ["m1", "m2", "m3"]
    assert s.category == "Helpfulness/Summarization/x"


def test_hh_rlhf_splits_history(tmp_path):
    row = {"chosen": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: joke?\n\nAssistant: A pun.",
           "rejected": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: joke?\n\nAssistant: No."}
    path = dump(tmp_path / "harmless-base/test.jsonl.gz", [row], jsonl=True)
    (pair,) = read("hh-rlhf", path).records
    assert pair.prompt == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                           {"role": "user", "content": "joke?"}]
    assert chosen_rejected(pair) == ("A pun.", "No.") and pair.category == "harmless-base"


def test_hh_rlhf_rejects_non_transcript(tmp_path):
    path = dump(tmp_path / "t.jsonl", [{"chosen": "hello", "rejected": "bye"}], jsonl=True)
    with pytest.raises(InputError, match=r"t.jsonl:1: rejected: shares no history"):
        read("hh-rlhf", path)


def test_llmbar_categories_from_folders(tmp_path):
    dump(tmp_path / "Dataset/LLMBar/Adversarial/Neighbor/dataset.json",
         [{"input": "q", "output_1": "x", "output_2": "y", "label": 2}])
    dump(tmp_path / "Dataset/Processed/MT-Bench/dataset.json",
         [{"input": "q2", "output_1": "x", "output_2": "y", "label": 1}])
    records = read("llmbar", tmp_path / "Dataset").records
    assert [(r.category, r.label) for r in records] == [("LLMBar/Adversarial/Neighbor", "b"), ("Processed/MT-Bench", "a")]
    dump(tmp_path / "bad/dataset.json", [{"input": "q", "output_1": "x", "output_2": "y", "label": 3}])
    with pytest.raises(InputError, match=r"dataset.json: record 0: label: expected 1 or 2, got 3"):
        read("llmbar", tmp_path / "bad")


def test_hhh_unwraps_prometheus(tmp_path):
    def wrap(response):
        return (f"###Task Description:\nblah\n\n###The instruction to evaluate:\nHow do I bake?\n\n"
                f"###Response to evaluate:\n{response}\n\n###Score Rubrics:\n[...]\n###Feedback: ")
    path = dump(tmp_path / "hhh.json", [{"source": "helpful", "chosen_instruction": wrap("Preheat the oven."),
                                         "rejected_instruction": wrap("No.")}])
    (pair,) = read("hhh-prometheus", path).records
    assert pair.prompt == "How do I bake?" and chosen_rejected(pair) == ("Preheat the oven.", "No.")
    assert pair.category == "helpful"


def test_prometheus_scored_groups_responses_with_scores(tmp_path):
    def wrap(response):
        return (f"###Task Description:\nx\n\n###The instruction to evaluate:\nQ\n\n###Response to evaluate:\n{response}"
                f"\n\n###Reference Answer (Score 5):\nref\n\n###Score Rubrics:\n[...]")
    path = dump(tmp_path / "vicuna_eval.json", [
        {"idx": 1, "response_source": "m1", "category": "generic", "instruction": wrap("r1"), "gpt4_score": [5, 4]},
        {"idx": 1, "response_source": "m2", "category": "generic", "instruction": wrap("r2"), "gpt4_score": 2}])
    (s,) = read("prometheus-scored", path).records
    assert (s.prompt, s.responses, s.models, s.meta["gpt4_score"]) == ("Q", ["r1", "r2"], ["m1", "m2"], [4.5, 2.0])


def test_pandalm_majority_and_ties(tmp_path):
    base = {"instruction": "Do it", "input": "", "response1": "r1", "response2": "r2", "idx": 0}
    path = dump(tmp_path / "p.json", [
        {**base, "annotator1": 2, "annotator2": 2, "annotator3": 1},
        {**base, "annotator1": 0, "annotator2": 0, "annotator3": 1},
        {**base, "annotator1": 0, "annotator2": 1, "annotator3": 2},
        {**base, "input": "ctx", "response1": True, "annotator1": 1, "annotator2": 1, "annotator3": 1}])
    records = read("pandalm", path).records
    assert [r.label for r in records] == ["b", "tie", "tie", "a"]
    assert records[2].meta["no_majority"] and records[3].prompt == "Do it\n\nctx"
    assert records[3].response_a == "True" and records[3].meta["coerced"] == ["response1"]


def test_judgebench_and_sharegpt(tmp_path):
    path = dump(tmp_path / "gpt.json", [{"pair_id": "p", "source": "livebench-math", "prompt": "1+1",
                                         "chosen": "2", "rejected": "3", "response_model": "m"}])
    (pair,) = read("judgebench", path).records
    assert chosen_rejected(pair) == ("2", "3") and pair.category == "livebench-math"
    path = dump(tmp_path / "dpo.json", [{"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "Q"}],
                                         "chosen": {"from": "gpt", "value": "yes"}, "rejected": {"from": "gpt", "value": "no"}}])
    (pair,) = read("sharegpt-dpo", path).records
    assert pair.prompt == [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    assert chosen_rejected(pair) == ("yes", "no")


def test_alpaca_eval_groups_models_and_annotations(tmp_path):
    for model, text in (("m1", "a1"), ("m2", "a2")):
        dump(tmp_path / f"results/{model}/model_outputs.json", [
            {"instruction": "Q1", "output": f"{text}-q1", "generator": model, "dataset": "helpful_base"},
            {"instruction": "Q2", "output": f"{text}-q2", "generator": model, "dataset": "koala"}])
    dump(tmp_path / "results/m2/alpaca_eval_gpt4/annotations.json", [
        {"instruction": "Q1", "output_1": "x", "output_2": "y", "generator_1": "m0", "generator_2": "m2",
         "preference": 2, "dataset": "helpful_base"},
        {"instruction": "Q2", "output_1": "x", "output_2": "y", "preference": 1.5}])
    sets = read("alpaca-eval", tmp_path / "results").records
    assert [(s.prompt, s.responses, s.models, s.category) for s in sets] == [
        ("Q1", ["a1-q1", "a2-q1"], ["m1", "m2"], "helpful_base"), ("Q2", ["a1-q2", "a2-q2"], ["m1", "m2"], "koala")]
    pairs = read("alpaca-eval-annotations", tmp_path / "results").records
    assert [p.label for p in pairs] == ["b", "tie"] and pairs[0].meta["model_b"] == "m2"


def test_arena_hard_groups_answers(tmp_path):
    root = tmp_path / "arena-hard-v0.1"
    dump(root / "question.jsonl", [{"uid": "u1", "category": "x", "cluster": "Puzzles", "prompt": "Q"}], jsonl=True)
    for model in ("m1", "m2"):
        dump(root / f"model_answer/{model}.jsonl", [
            {"uid": "u1", "model": model, "messages": [{"role": "user", "content": "Q"},
                                                       {"role": "assistant", "content": {"answer": f"by {model}"}}]}],
             jsonl=True)
    (s,) = read("arena-hard", root).records
    assert s.prompt == "Q" and s.responses == ["by m1", "by m2"] and s.models == ["m1", "m2"]
    assert s.category == "Puzzles"


def test_alpaca_farm_outputs(tmp_path):
    dump(tmp_path / "outputs_sft.json", [{"instruction": "Rewrite", "input": "text", "output": "sft out"}])
    dump(tmp_path / "outputs_rlhf.json", [{"instruction": "Rewrite", "input": "text", "output": "rlhf out"}])
    dump(tmp_path / "multisamples_sft.json", [{"instruction": "Other", "input": "", "output": ["s1", "s2"]}])
    records = read("alpaca-farm", tmp_path).records
    by_prompt = {r.prompt: r for r in records}
    assert by_prompt["Other"].responses == ["s1", "s2"]
    assert sorted(by_prompt["Rewrite\n\ntext"].responses) == ["rlhf out", "sft out"]
    assert set(by_prompt["Rewrite\n\ntext"].models) == {"sft", "rlhf"}


def test_rewardbench_and_rm_bench_parquet_and_jsonl(tmp_path):
    import datasets

    datasets.Dataset.from_list([{"prompt": "q", "chosen": "c", "rejected": "r", "subset": "llmbar-natural", "id": 5}]
                               ).to_parquet(str(tmp_path / "rb.parquet"))
    (pair,) = read("rewardbench", tmp_path / "rb.parquet").records
    assert chosen_rejected(pair) == ("c", "r") and pair.category == "llmbar-natural" and pair.meta["id"] == 5
    dump(tmp_path / "rmb.jsonl", [{"id": 1, "prompt": "q", "domain": "math",
                                   "chosen": ["c0", "c1", "c2"], "rejected": ["r0", "r1", "r2"]}], jsonl=True)
    pairs = read("rm-bench", tmp_path / "rmb.jsonl").records
    assert len(pairs) == 9
    assert {(p.meta["chosen_style"], p.meta["rejected_style"]) for p in pairs} == {(i, j) for i in range(3) for j in range(3)}
    assert all(p.chosen == f"c{p.meta['chosen_style']}" and p.rejected == f"r{p.meta['rejected_style']}" for p in pairs)


def test_generic_preference_strings_and_messages(tmp_path):
    conv = [{"role": "user", "content": "Q"}]
    dump(tmp_path / "pref.jsonl", [
        {"prompt": "Q", "chosen": "c", "rejected": "r"},
        {"prompt": conv, "chosen": [{"role": "assistant", "content": "c"}],
         "rejected": [{"role": "assistant", "content": "r"}]},
        {"chosen": conv + [{"role": "assistant", "content": "c"}], "rejected": conv + [{"role": "assistant", "content": "r"}]},
    ], jsonl=True)
    pairs = read("preference", tmp_path / "pref.jsonl").records
    assert [(p.prompt, *chosen_rejected(p)) for p in pairs] == [("Q", "c", "r")] * 3
    dump(tmp_path / "bad.jsonl", [{"chosen": "c", "rejected": "r"}], jsonl=True)
    with pytest.raises(InputError, match=r"bad.jsonl:1: prompt: missing"):
        read("preference", tmp_path / "bad.jsonl")


def test_gram_reference_round_trip(tmp_path):
    pair = PreferencePair([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"},
                           {"role": "user", "content": "Q?"}], "first\nline", "second", "b")
    dump(tmp_path / "ft.json", [to_finetune(pair)])
    (back,) = read("gram-finetune", tmp_path / "ft.json").records
    assert (back.prompt, back.response_a, back.response_b, back.label) == (
        "User: Hi\n\nAssistant: Yo\n\nUser: Q?", "first\nline", "second", "b")
    assert to_finetune(pair)["instruction"].endswith("#Preferred:") and to_finetune(pair)["output"] == "B"
    dump(tmp_path / "pt.json", [to_pretrain(PreferencePair("Can dogs get covid?", "Yes.", "No."))])
    (back,) = read("gram-pretrain", tmp_path / "pt.json").records
    assert (back.prompt, back.response_a, back.response_b, back.label) == ("Can dogs get covid?", "Yes.", "No.", None)
    with pytest.raises(ValueError):
        to_finetune(PreferencePair("q", "a", "b", "tie"))


def test_native_rows_round_trip(tmp_path):
    pair = PreferencePair("q", "a", "b", "a", "src", "cat", {"id": 1})
    s = ResponseSet([{"role": "user", "content": "q"}], ["x", "y", "z"], ["m1", None, "m3"], 2, "src")
    path = dump(tmp_path / "rows.jsonl", [pair.to_row(), s.to_row()], jsonl=True)
    assert read("gram", path).records == [pair, s]


@pytest.mark.parametrize("row, message", [
    ({"prompt": "q", "response_a": "a", "response_b": "b", "label": "A"}, "rows.jsonl:2: label: expected one of"),
    ({"prompt": "q", "responses": ["a", 1]}, "rows.jsonl:2: responses: expected a list of strings"),
    ({"prompt": "q", "responses": ["a", "b"], "best": 2}, "rows.jsonl:2: best: expected an index"),
    ({"prompt": [], "response_a": "a", "response_b": "b"}, "rows.jsonl:2: prompt: expected a string or a non-empty list"),
])
def test_native_errors(tmp_path, row, message):
    path = dump(tmp_path / "rows.jsonl", [{"prompt": "q", "response_a": "a", "response_b": "b"}, row], jsonl=True)
    with pytest.raises(InputError) as err:
        read("gram", path)
    assert message in str(err.value)


def test_skip_bad_keeps_reasons(tmp_path):
    path = dump(tmp_path / "gpt.json", [{"prompt": "q", "chosen": "c", "rejected": "r", "source": "s"},
                                        {"prompt": "q", "chosen": 3, "rejected": "r", "source": "s"}, "oops"])
    result = read("judgebench", path, skip_bad=True)
    assert len(result.records) == 1 and result.items == 3
    assert [(r["where"].split(": ", 1)[1], r["field"], r["problem"]) for r in result.rejects] == [
        ("record 1", "chosen", "expected a string, got int"), ("record 2", None, "expected a JSON object, got str")]


def test_file_level_errors(tmp_path):
    (tmp_path / "empty.json").write_text("[]")
    with pytest.raises(InputError, match="empty file"):
        read("judgebench", tmp_path / "empty.json")
    (tmp_path / "broken.json").write_text('[{"prompt": "q",\n "chosen": }]')
    with pytest.raises(InputError, match=r"broken.json:2: not valid JSON"):
        read("judgebench", tmp_path / "broken.json")
    with pytest.raises(InputError, match="unknown format 'nope'"):
        read("nope", tmp_path)
    with pytest.raises(InputError, match="no such file"):
        read("judgebench", tmp_path / "missing.json")


def test_every_format_is_tested():
    tested = {"rmb-pairwise", "rmb-bon", "hh-rlhf", "llmbar", "hhh-prometheus", "prometheus-scored", "pandalm", "judgebench", "sharegpt-dpo",
              "alpaca-eval", "alpaca-eval-annotations", "arena-hard", "alpaca-farm", "rewardbench", "rewardbench2", "rm-bench",
              "preference", "gram-finetune", "gram-pretrain", "gram"}
    assert set(FORMATS) == tested


def test_gram_pretrain_reads_the_reference_readmes_own_example(tmp_path):
    """NiuTrans/GRAM README @4eff957, pre-training example: no newline before A's end marker."""
    row = {"instruction": "[User Question]\nCan dogs get covid?\n\n", "input": "",
           "output": "[The Start of Assistant A's Answer]\nYes, indeed. ... [The End of Assistant A's Answer]\n\n"
                     "[The Start of Assistant B's Answer]\nMany of the symptoms are similar, including fever, "
                     "coughing, loss of smell, etc. ...\n[The End of Assistant B's Answer]"}
    dump(tmp_path / "pt.json", [row])
    (pair,) = read("gram-pretrain", tmp_path / "pt.json").records
    assert pair.prompt == "Can dogs get covid?" and pair.response_a == "Yes, indeed. ... "
    assert pair.response_b.startswith("Many of the symptoms") and pair.response_b.endswith("etc. ...")


def test_gram_pretrain_reads_what_the_reference_cleaning_script_writes(tmp_path):
    """data/clean_data.py (NiuTrans/GRAM @4eff957) builds its markers with raw strings: a backslash and an
    `n` where the layout has newlines; a literal \\n inside an answer stays."""
    row = {"instruction": r"[User Question]\n" + "Why?" + r"\n\n", "input": "",
           "output": r"[The Start of Assistant A's Answer]\n" + "Because." + r"[The End of Assistant A's Answer]\n\n"
                     r"[The Start of Assistant B's Answer]\n" + r"print('a\nb')" + r"\n[The End of Assistant B's Answer]"}
    dump(tmp_path / "pt.json", [row])
    (pair,) = read("gram-pretrain", tmp_path / "pt.json").records
    assert (pair.prompt, pair.response_a, pair.response_b) == ("Why?", "Because.", r"print('a\nb')")


def test_rewardbench2_rows_are_response_sets_with_their_correct_ones_first(tmp_path):
    rows = [{"id": "tied:3", "prompt": "A colour?", "chosen": ["red", "blue"], "rejected": ["dog"], "num_correct": 2,
             "subset": "Ties"},
            {"id": "9", "prompt": "Q", "chosen": ["a"], "rejected": [1, "c"], "num_correct": 1, "subset": "Math"},
            {"id": "10", "prompt": "Q", "chosen": ["a"], "rejected": [], "num_correct": 1, "subset": "Math"}]
    dump(tmp_path / "rb2.jsonl", rows, jsonl=True)
    result = read("rewardbench2", tmp_path / "rb2.jsonl", skip_bad=True)
    (s,) = result.records
    assert s.responses == ["red", "blue", "dog"] and s.category == "Ties" and s.best is None
    assert s.meta == {"id": "tied:3", "num_correct": 2}
    assert [r["field"] for r in result.rejects] == ["rejected[0]", "num_correct"]


def test_the_hub_reader_keeps_each_value_its_type(tmp_path):
    """pyarrow would type the column as numbers and turn the string "1.5" into 1.5; the reader keeps it."""
    path = tmp_path / "prefs.jsonl"
    path.write_text('{"prompt": "q", "chosen": "1.5", "rejected": "2"}\n{"prompt": "q2", "chosen": 2, "rejected": "b"}\n')
    result = read("preference", path, skip_bad=True)
    (pair,) = result.records
    assert pair.response_a == "1.5" or pair.response_b == "1.5"
    (bad,) = result.rejects
    assert f"{path}:2" in bad["where"] and bad["item"]["chosen"] == 2
