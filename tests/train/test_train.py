"""Both stages, adaptation, LoRA, configs and resume on the tiny model: parameters change, loss falls,
the output is a plain model directory that `gram score` reads."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from gram.cli import main
from gram.records import PreferencePair

QUESTIONS = ["What is 2+2?", "Name a colour.", "Capital of France?", "Say hi.", "Largest planet?", "A prime number?"]


def write_pairs(path, labeled=True):
    rows = []
    for i, q in enumerate(QUESTIONS):
        good, bad = f"The answer {i} is right.", f"no {i}"
        label = ("a" if i % 2 == 0 else "b") if labeled else None
        a, b = (good, bad) if i % 2 == 0 else (bad, good)
        rows.append(PreferencePair(q, a, b, label, "test").to_row())
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def summary(out):
    return json.loads((out / "train_summary.json").read_text())


def losses(out):
    state = json.loads((out / "trainer_state.json").read_text())
    return [h["loss"] for h in state["log_history"] if "loss" in h]


def fell(curve, factor=0.8):
    return sum(curve[-3:]) / 3 < factor * sum(curve[:3]) / 3


def changed(before_dir, after_dir):
    a = AutoModelForCausalLM.from_pretrained(before_dir).state_dict()
    b = AutoModelForCausalLM.from_pretrained(after_dir).state_dict()
    return [k for k in a if not torch.equal(a[k], b[k])]


COMMON = ["--batch-size", "4", "--grad-accum", "1", "--learning-rate", "1e-3", "--logging-steps", "1",
          "--save-steps", "4", "--max-length", "1024", "--warmup-ratio", "0.0", "--lr-scheduler", "constant"]


def test_pretrain_learns_the_pair_target(tmp_path, tiny_model_dir):
    data, out = write_pairs(tmp_path / "u.jsonl", labeled=False), tmp_path / "stage1"
    assert main(["pretrain", "--model", str(tiny_model_dir), "--train-file", str(data), "--output-dir", str(out),
                 "--max-steps", "12", *COMMON]) == 0
    assert fell(losses(out))
    assert changed(tiny_model_dir, out)
    assert (out / "loss.png").stat().st_size > 1000 and "stage 1" in (out / "README.md").read_text()


def test_pretrain_masks_the_prompt(tiny_tokenizer):
    from gram.train.examples import IGNORE, pretrain_examples

    (ex,), _ = pretrain_examples([PreferencePair("Q?", "yes", "no")], tiny_tokenizer, 1024)
    target = tiny_tokenizer.decode([t for t in ex["labels"] if t != IGNORE])
    assert target.startswith("[The Start of Assistant A's Answer]\nyes\n") and "[User Question]" not in target
    assert tiny_tokenizer.decode(ex["input_ids"]).startswith("<|im_start|>user\n[User Question]\nQ?")


def test_finetune_then_score(tmp_path, tiny_model_dir, capsys):
    data, out = write_pairs(tmp_path / "l.jsonl"), tmp_path / "stage2"
    assert main(["finetune", "--model", str(tiny_model_dir), "--train-file", str(data), "--output-dir", str(out),
                 "--max-steps", "24", "--eval-file", str(data), *COMMON]) == 0
    assert fell(losses(out))
    s = summary(out)
    assert s["examples"] == 2 * len(QUESTIONS)  # both orders
    assert s["eval"]["pairs"] == len(QUESTIONS) and s["eval"]["accuracy"] is not None
    assert changed(tiny_model_dir, out)
    scored = tmp_path / "scored.jsonl"
    assert main(["score", "--model", str(out), "--input", str(data), "--output", str(scored), "--quiet"]) == 0
    rows = [json.loads(line) for line in scored.read_text().splitlines()]
    # trained on exactly these pairs: the fine-tuned judge now prefers the labeled response
    assert sum((r["score_a"] > 0.5) == (r["label"] == "a") for r in rows) >= 5


def test_stage2_computes_logits_at_one_position(tiny_model, tiny_tokenizer):
    from gram.train.examples import LeftPadCollator, finetune_examples
    from gram.train.trainers import GramTrainer

    examples, _ = finetune_examples([PreferencePair("q", "a", "bb", "a")], tiny_tokenizer, 1024)
    batch = LeftPadCollator(0)(examples)
    shapes = []
    handle = tiny_model.lm_head.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
    trainer = GramTrainer.__new__(GramTrainer)  # compute_loss needs only these fields
    trainer.label_ids, trainer.label_smoothing, trainer.loss_type = [65, 66], 0.1, "gram"
    try:
        loss = trainer.compute_loss(tiny_model, dict(batch))
    finally:
        handle.remove()
    assert shapes == [(2, 1, tiny_model.config.vocab_size)] and loss.item() > 0


def test_adapt_with_lora_and_yaml_config(tmp_path, tiny_model_dir):
    data, out = write_pairs(tmp_path / "l.jsonl"), tmp_path / "adapted"
    config = tmp_path / "adapt.yaml"
    config.write_text(f"model: {tiny_model_dir}\ntrain_file: {data}\noutput_dir: {out}\nlora: true\nlora_r: 4\n"
                      "max_steps: 16\nlearning_rate: 0.002\nlabel_smoothing: 0.05\n")
    assert main(["adapt", "--config", str(config), "--batch-size", "12", "--grad-accum", "1", "--logging-steps", "1",
                 "--save-steps", "4", "--max-length", "1024"]) == 0
    s = summary(out)
    assert s["config"]["lora"] and s["config"]["label_smoothing"] == 0.05 and s["config"]["batch_size"] == 12
    assert fell(losses(out), factor=0.9)
    assert changed(tiny_model_dir, out)  # merged adapters: a plain model with new weights
    assert not (out / "adapter_config.json").exists()


def test_config_errors(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rat: 1e-5\n")
    assert main(["finetune", "--config", str(bad), "--train-file", "x", "--output-dir", "y"]) == 2
    # one config system: the message every command gives (it was "unknown option for `FinetuneConfig`")
    assert "bad.yaml: learning_rat: not an option of `gram finetune` (known: " in capsys.readouterr().err
    assert main(["finetune", "--train-file", "x"]) == 2
    assert "--output-dir is required" in capsys.readouterr().err


def test_resume_from_last_checkpoint(tmp_path, tiny_model_dir):
    data, out = write_pairs(tmp_path / "l.jsonl"), tmp_path / "run"
    args = ["finetune", "--model", str(tiny_model_dir), "--train-file", str(data), "--output-dir", str(out), *COMMON]
    assert main([*args, "--max-steps", "4", "--keep-checkpoints"]) == 0
    assert summary(out)["resumed_from"] is None and (out / "checkpoint-4").is_dir()
    assert main([*args, "--max-steps", "8"]) == 0
    s = summary(out)
    assert s["resumed_from"].endswith("checkpoint-4") and s["steps"] == 8
    assert not list(out.glob("checkpoint-*"))  # the finished run ships without them


def test_two_processes_match_one(tmp_path, tiny_model_dir):
    """torchrun with 2 CPU processes (gloo) and the same global batch reaches the same losses as 1 process.

    The global batch is the whole set (12 examples), so shuffling cannot make the two runs see different
    batches: what is compared is the sharding, the gradient all-reduce and the loss gathering."""
    import os
    import subprocess
    import sys

    data = write_pairs(tmp_path / "l.jsonl")
    common = ["finetune", "--model", str(tiny_model_dir), "--train-file", str(data), "--max-steps", "4",
              "--grad-accum", "1", "--learning-rate", "1e-3", "--logging-steps", "1", "--save-steps", "4",
              "--max-length", "1024", "--seed", "3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "gram.cli", *common, "--output-dir", str(tmp_path / "one"),
                          "--batch-size", "12"], env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "gram.cli", *common, "--output-dir", str(tmp_path / "two"), "--batch-size", "6"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-2000:] + "\n---HEAD---\n" + two.stderr[:6000]
    a, b = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(a) == len(b) == 4
    assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
    assert len({round(x, 4) for x in a}) > 1  # the weights moved


@pytest.mark.parametrize("lora", [False, True])
def test_gradient_checkpointing_runs(tmp_path, tiny_model_dir, lora):
    data, out = write_pairs(tmp_path / "l.jsonl"), tmp_path / "gc"
    assert main(["finetune", "--model", str(tiny_model_dir), "--train-file", str(data), "--output-dir", str(out),
                 "--max-steps", "2", "--gradient-checkpointing", *(["--lora"] if lora else []), *COMMON]) == 0
    assert summary(out)["steps"] == 2 and changed(tiny_model_dir, out)


def test_unmerged_lora_keeps_adapters(tmp_path, tiny_model_dir):
    data, out = write_pairs(tmp_path / "l.jsonl"), tmp_path / "lora"
    assert main(["finetune", "--model", str(tiny_model_dir), "--train-file", str(data), "--output-dir", str(out),
                 "--max-steps", "2", "--lora", "--no-merge-lora", *COMMON]) == 0
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()


def test_bradley_terry_baseline_trains_and_scores(tmp_path, tiny_model_dir):
    from gram.scoring import RewardModelJudge, load_judge

    data, out = write_pairs(tmp_path / "l.jsonl"), tmp_path / "bt"
    assert main(["train-bt", "--model", str(tiny_model_dir), "--train-file", str(data), "--output-dir", str(out),
                 "--max-steps", "16", "--eval-file", str(data), "--batch-size", "6", "--grad-accum", "1",
                 "--learning-rate", "1e-3", "--logging-steps", "1", "--save-steps", "8", "--max-length", "1024",
                 "--warmup-ratio", "0.0", "--lr-scheduler", "constant"]) == 0
    assert fell(losses(out))
    judge = load_judge(str(out), device="cpu")
    assert isinstance(judge, RewardModelJudge)
    pairs = [(q, f"The answer {i} is right.", f"no {i}") for i, q in enumerate(QUESTIONS)]
    scores = judge.compare_many(pairs, batch_size=4)
    alone = [judge.compare(*p) for p in pairs]
    for s, t in zip(scores, alone):
        assert s.score_a == pytest.approx(t.score_a, abs=1e-5)  # batch-invariant
        assert s.consistent and s.score_a + s.score_b == pytest.approx(1.0)
    swapped = judge.compare(pairs[0][0], pairs[0][2], pairs[0][1])
    assert swapped.score_a == pytest.approx(scores[0].score_b, abs=1e-5)  # order-free
    assert sum(s.score_a > 0.5 for s in scores) >= 5  # trained on these: prefers the right response
    assert summary(out)["eval"]["accuracy"] >= 5 / 6


def test_bradley_terry_model_adapts_from_its_own_checkpoint(tmp_path, tiny_model_dir):
    """Task adaptation of the BT baseline: train-bt again from a BT checkpoint keeps its trained head."""
    from safetensors.torch import load_file

    data = write_pairs(tmp_path / "l.jsonl")
    first, second = tmp_path / "bt", tmp_path / "bt-adapted"
    flags = ["--train-file", str(data), "--batch-size", "6", "--grad-accum", "1", "--learning-rate", "1e-3",
             "--logging-steps", "1", "--save-steps", "8", "--max-length", "1024"]
    assert main(["train-bt", "--model", str(tiny_model_dir), "--output-dir", str(first), "--max-steps", "4", *flags]) == 0
    assert main(["train-bt", "--model", str(first), "--output-dir", str(second), "--max-steps", "2", "--limit", "6",
                 *flags]) == 0
    head = [load_file(d / "model.safetensors")["score.weight"] for d in (first, second)]
    assert head[0].shape == head[1].shape and not torch.equal(head[0], head[1])


def test_shared_template_head_gives_the_same_loss_and_gradients(tiny_model_dir, tiny_tokenizer):
    """Stage 2 with the template head run once per batch equals running it in every row."""
    from gram.templates import label_token_ids, template_head
    from gram.train.examples import LeftPadCollator, finetune_examples
    from gram.train.trainers import GramTrainer

    pairs = [PreferencePair(q, f"The answer {i} is right.", f"no {i}", "a" if i % 2 else "b")
             for i, q in enumerate(QUESTIONS)]
    examples, _ = finetune_examples(pairs, tiny_tokenizer, 1024, True, "gram")
    head = tuple(template_head(tiny_tokenizer))
    split, plain = LeftPadCollator(0, head)(examples), LeftPadCollator(0)(examples)
    assert "head_ids" in split and split["input_ids"].shape[1] == plain["input_ids"].shape[1] - len(head)
    results = []
    for batch in (split, plain):
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        trainer = GramTrainer.__new__(GramTrainer)  # compute_loss only: no Trainer machinery needed
        trainer.label_ids, trainer.label_smoothing, trainer.loss_type = list(label_token_ids(tiny_tokenizer)), 0.1, "gram"
        loss = trainer.compute_loss(model, dict(batch))
        loss.backward()
        results.append((loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    (a, ga), (b, gb) = results
    assert a == pytest.approx(b, rel=1e-5)
    for name in ga:
        assert torch.allclose(ga[name], gb[name], atol=1e-5, rtol=1e-4), name


def test_length_grouped_batches_pad_less_and_keep_every_example(tmp_path):
    """gram's default sampler: every example once per epoch, micro-batches of similar lengths (BT pairs by
    their longer side); --no-group-by-length gives transformers' random sampler back."""
    import random

    from transformers import TrainingArguments
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from gram.train.trainers import LengthGroupedTrainer, example_length

    rng = random.Random(0)
    examples = [{"input_ids": [1] * rng.randint(10, 700), "label": 0} for _ in range(320)]
    assert example_length({"chosen_ids": [1] * 5, "rejected_ids": [1] * 9}) == 9

    def sampler(strategy):
        args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=4, gradient_accumulation_steps=4,
                                 train_sampling_strategy=strategy, use_cpu=True, report_to="none")
        trainer = LengthGroupedTrainer.__new__(LengthGroupedTrainer)  # the sampler needs only args and data
        trainer.args, trainer.train_dataset = args, examples
        return trainer._get_train_sampler()

    def padded(order):
        return sum(max(len(examples[i]["input_ids"]) for i in order[k:k + 4]) * 4 for k in range(0, len(order), 4))

    torch.manual_seed(0)
    grouped = list(sampler("group_by_length"))
    assert isinstance(sampler("group_by_length"), LengthGroupedSampler)
    assert sorted(grouped) == list(range(len(examples)))
    random_order = list(sampler("random"))
    assert sorted(random_order) == list(range(len(examples)))
    real = sum(len(e["input_ids"]) for e in examples)
    assert padded(grouped) < 1.05 * real < 1.2 * real < padded(random_order)


def test_a_short_run_spends_no_step_at_learning_rate_zero(tmp_path, tiny_model_dir):
    """Warmup takes floor(ratio x steps): a smoke run shorter than 1 / ratio steps has none (transformers' ceil
    gave it one step at learning rate 0: a 1-step run changed nothing), and the summary says how many."""
    data = write_pairs(tmp_path / "l.jsonl")
    for steps, warmup in ((1, 0), (4, 0), (24, 2)):
        out = tmp_path / f"run{steps}"
        assert main(["finetune", "--model", str(tiny_model_dir), "--train-file", str(data), "--output-dir", str(out),
                     "--max-steps", str(steps), *COMMON, "--warmup-ratio", "0.1", "--lr-scheduler", "cosine"]) == 0
        assert summary(out)["warmup_steps"] == warmup
    assert changed(tiny_model_dir, tmp_path / "run1")


def test_an_unmerged_lora_baseline_is_evaluated_on_its_trained_head(tmp_path, tiny_model_dir):
    """--lora --no-merge-lora --eval-file on the Bradley-Terry baseline: the held-out check reads the saved
    adapters onto the base as training built it (one-output head, its padding id); a plain load of the
    adapter folder rebuilt a 2-label head and refused the adapters' 1-label one."""
    data, out = write_pairs(tmp_path / "l.jsonl"), tmp_path / "bt"
    assert main(["train-bt", "--model", str(tiny_model_dir), "--train-file", str(data), "--output-dir", str(out),
                 "--lora", "--no-merge-lora", "--eval-file", str(data), "--max-steps", "2", *COMMON]) == 0
    assert (out / "adapter_model.safetensors").exists() and summary(out)["eval"]["pairs"] == len(QUESTIONS)
