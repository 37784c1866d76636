"""Training and jobs on the real distributed engines, on the CPU: torchrun with 2 processes over gloo (DDP),
DeepSpeed ZeRO-2 and ZeRO-3 on its CPU accelerator, torch FSDP2 (`--fsdp`) over gloo, and two "nodes" (two torchrun launches, each in its own
working folder). The distributed phase of .ci/run runs these (pip install '.[deepspeed]'); without DeepSpeed
they are skipped.

Tolerances: the same global batch on 2 processes as on 1 gives the same weights to 1e-6 (float32 sums in
another order; LoRA adapters merged: 1e-5; the Bradley-Terry baseline: 1e-4, its losses to 1e-6); a run
killed mid-epoch and rerun gives the uninterrupted run's weights exactly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
from helpers import gram
from safetensors.torch import load_file

from gram.records import PreferencePair

pytestmark = pytest.mark.distributed
pytest.importorskip("deepspeed", reason="DeepSpeed is not installed (pip install 'gram[deepspeed]')")

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu", "GRAM_CPU_BF16": "0"}
ZERO = {2: {"stage": 2}, 3: {"stage": 3, "stage3_gather_16bit_weights_on_model_save": True}}
# 32 pairs of varied lengths, both orders: 64 examples, 8 steps of 8 per epoch
ENGINES = {"ddp": "DDP", "zero2": "DeepSpeed ZeRO-2", "zero3": "DeepSpeed ZeRO-3", "fsdp": "FSDP2"}
TRAIN = ["--max-length", "1024", "--learning-rate", "1e-3", "--lr-scheduler", "constant", "--warmup-ratio", "0",
         "--logging-steps", "1", "--seed", "3"]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pairs.jsonl"
    rows = []
    for i in range(32):
        good, bad = f"The answer {i} is right." + " so" * (i % 9), f"no {i}" + " x" * (i % 5)
        a, b = (good, bad) if i % 2 == 0 else (bad, good)
        rows.append(PreferencePair(f"Question {i}?", a, b, "a" if i % 2 == 0 else "b", "t").to_row())
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def deepspeed_config(tmp_path, stage: int):
    path = tmp_path / f"zero{stage}.json"
    path.write_text(json.dumps({"train_batch_size": "auto", "train_micro_batch_size_per_gpu": "auto",
                                "gradient_accumulation_steps": "auto", "gradient_clipping": "auto",
                                "zero_allow_untested_optimizer": True, "zero_optimization": ZERO[stage]}))
    return path


def engine_flags(tmp_path, engine: str) -> list:
    """The flags of one of ENGINES."""
    if engine.startswith("zero"):
        return ["--deepspeed", deepspeed_config(tmp_path, int(engine[-1]))]
    return ["--fsdp"] if engine == "fsdp" else []


def launch(nproc: int, *args, cwd=None, nodes: tuple[int, int, int] | None = None) -> list[str]:
    """torchrun's command line: one node of `nproc` processes, or node `rank` of `count` meeting at `port`."""
    where = ["--standalone"] if nodes is None else [
        "--nnodes", str(nodes[1]), "--node_rank", str(nodes[0]), "--master_addr", "127.0.0.1",
        "--master_port", str(nodes[2])]
    return [sys.executable, "-m", "torch.distributed.run", *where, "--nproc_per_node", str(nproc),
            *gram(*args)[1:]]


def run(cmd, cwd=None, ok=True, timeout=600):
    done = subprocess.run(cmd, env=ENV, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if ok:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def weights(out) -> dict[str, torch.Tensor]:
    return load_file(out / "model.safetensors")


def largest_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def finetune(model, data, out, batch, steps, *extra):
    return ["finetune", "--model", model, "--train-file", data, "--output-dir", out, "--batch-size", batch,
            "--grad-accum", 1, "--max-steps", steps, "--save-steps", 3, *TRAIN, *extra]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, tiny_model_dir, pairs):
    """The reference: 1 process, global batch 8, 6 steps (past the first epoch), length grouping on."""
    out = tmp_path_factory.mktemp("one") / "run"
    run(gram(*finetune(tiny_model_dir, pairs, out, 8, 10)))
    return out


@pytest.mark.parametrize("engine", ["ddp", "zero2", "zero3", "fsdp"])
def test_two_processes_give_the_one_process_weights(tmp_path, tiny_model_dir, pairs, one_process, engine):
    """2 x 4 on each engine = 1 x 8, with length grouping on (the groups are sized from the global batch),
    across an epoch boundary; ZeRO-3's and FSDP2's final models are gathered from their shards."""
    out = tmp_path / "run"
    run(launch(2, *finetune(tiny_model_dir, pairs, out, 4, 10, *engine_flags(tmp_path, engine))))
    difference = largest_difference(weights(one_process), weights(out))
    assert difference < 1e-6, difference
    assert largest_difference(weights(one_process), load_file(tiny_model_dir / "model.safetensors")) > 1e-3
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["engine"] == ENGINES[engine] + ", 2 processes"
    # FSDP2's blocks reshard after their forward and cannot run the head's forward and the rows' before one backward
    assert summary["shared_template_head"] == ("off: FSDP2, 2 processes" if engine == "fsdp" else True)


@pytest.fixture(scope="module")
def tied_model_dir(tmp_path_factory, tiny_tokenizer):
    """A tiny Llama whose LM head is its input embeddings, as the embedded SmolLM2's."""
    from conftest import make_model

    path = tmp_path_factory.mktemp("tied")
    model = make_model(len(tiny_tokenizer))
    model.config.tie_word_embeddings = True
    torch.manual_seed(0)
    type(model)(model.config).save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path


@pytest.mark.parametrize("engine", ["zero3", "fsdp"])
@pytest.mark.parametrize("command", ["pretrain", "train-bt"])
def test_the_other_stages_run_sharded_like_one_process(tmp_path, tied_model_dir, pairs, command, engine):
    """Stage 1 (next-token loss) and the Bradley-Terry baseline (a fresh reward head, gathered at save) on
    ZeRO-3 or FSDP2 x 2 = 1 process at the same global batch, on a model with tied embeddings (saved once,
    as one process saves it); `adapt` is stage 2's code (tested above)."""
    args = [command, "--model", tied_model_dir, "--train-file", pairs, "--grad-accum", 1, "--max-steps", 4,
            "--save-steps", 3, *TRAIN]
    one, sharded = tmp_path / "one", tmp_path / engine
    run(gram(*args, "--output-dir", one, "--batch-size", 8))
    run(launch(2, *args, "--output-dir", sharded, "--batch-size", 4, *engine_flags(tmp_path, engine)))
    assert logged_losses(one) == pytest.approx(logged_losses(sharded), rel=1e-6)
    # Adam divides by sqrt(v): an element whose gradient is ~1e-8 turns float noise into a visible step
    # (the baseline's layer-0 down_proj: 2.2e-5, every other tensor below 5e-7)
    assert largest_difference(weights(one), weights(sharded)) < 1e-4


@pytest.mark.parametrize("options", [["--freeze-layers", 1], ["--gradient-checkpointing"]])
def test_fsdp_with_frozen_blocks_accumulation_or_recomputation_is_one_process(tmp_path, tiny_model_dir, pairs, options):
    """FSDP2 units holding frozen and trained weights (--freeze-layers), 2 micro-batches per step (every one
    reduce-scattered: FSDP2 has no no_sync) and recomputed activations: 2 x 2 x 2 = 1 x 4 x 2."""
    args = ["finetune", "--model", tiny_model_dir, "--train-file", pairs, "--grad-accum", 2, "--max-steps", 4, *TRAIN,
            *options]
    one, fsdp = tmp_path / "one", tmp_path / "fsdp"
    run(gram(*args, "--output-dir", one, "--batch-size", 4))
    run(launch(2, *args, "--output-dir", fsdp, "--batch-size", 2, "--fsdp"))
    assert largest_difference(weights(one), weights(fsdp)) < 1e-6


def logged_losses(out) -> list[float]:
    return [h["loss"] for h in json.loads((out / "trainer_state.json").read_text())["log_history"] if "loss" in h]


def kill_rank_1_after(cmd, out, step: int, timeout=300.0) -> None:
    """Start a torchrun launch, SIGKILL its rank 1 once checkpoint-`step` is complete; torchrun then stops
    rank 0 and exits non-zero."""
    import psutil

    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while not (out / f"checkpoint-{step}" / "trainer_state.json").exists():
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.time() < deadline, "timed out"
        time.sleep(0.01)
    workers = [p for p in psutil.Process(proc.pid).children(recursive=True) if "gram.cli" in " ".join(p.cmdline())]
    rank_1 = [p for p in workers if p.environ().get("RANK") == "1"]
    assert rank_1, [p.cmdline() for p in workers]
    rank_1[0].send_signal(signal.SIGKILL)
    assert proc.wait(timeout=120) != 0


@pytest.mark.parametrize("engine", ["ddp", "zero3", "fsdp"])
def test_a_run_killed_mid_epoch_resumes_to_the_same_weights(tmp_path, tiny_model_dir, pairs, engine):
    """20 steps of 8 per epoch, checkpoints every 3: rank 1 is killed once checkpoint-9 (epoch 1, step 1)
    is written; the same command again resumes there and ends with the uninterrupted run's weights."""
    extra = engine_flags(tmp_path, engine)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run(launch(2, *finetune(tiny_model_dir, pairs, whole, 4, 20, *extra)))
    cmd = launch(2, *finetune(tiny_model_dir, pairs, killed, 4, 20, *extra))
    kill_rank_1_after(cmd, killed, 9)
    run(cmd)
    summary = json.loads((killed / "train_summary.json").read_text())
    resumed = int(summary["resumed_from"].rsplit("-", 1)[1])
    assert 8 < resumed < 20 and resumed % 8, resumed  # mid-epoch, epoch 1 or 2
    assert largest_difference(weights(whole), weights(killed)) == 0.0


@pytest.mark.parametrize("engine", ["zero3", "fsdp"])
def test_sharded_with_eval_file_and_lora_finishes_like_ddp(tmp_path, tiny_model_dir, pairs, engine):
    """ZeRO-3 or FSDP2 + --lora + --eval-file: the adapters are merged (from the gathered files, not in
    sharded memory) into the model DDP gives, the held-out check runs on it and the summary is written; a
    rerun of a run killed after its last checkpoint finishes it without an engine."""
    # no dropout: FSDP2 runs the template's head in every row, DDP once per batch, so their masks would differ
    common = ["--lora", "--lora-dropout", 0, "--eval-file", pairs, "--keep-checkpoints"]
    ddp, sharded = tmp_path / "ddp", tmp_path / engine
    run(launch(2, *finetune(tiny_model_dir, pairs, ddp, 4, 6, *common)))
    run(launch(2, *finetune(tiny_model_dir, pairs, sharded, 4, 6, *common, *engine_flags(tmp_path, engine))))
    assert not (sharded / "adapter_model.safetensors").exists()
    assert largest_difference(weights(ddp), weights(sharded)) < 1e-5  # Adam over 6 steps of float32 sums in another order
    summaries = [json.loads((out / "train_summary.json").read_text()) for out in (ddp, sharded)]
    assert summaries[0]["eval"]["accuracy"] == pytest.approx(summaries[1]["eval"]["accuracy"])
    before = weights(sharded)
    for name in ("model.safetensors", "train_summary.json"):  # as if killed right after checkpoint-6
        (sharded / name).unlink()
    done = run(launch(2, *finetune(tiny_model_dir, pairs, sharded, 4, 6, *common, *engine_flags(tmp_path, engine))))
    assert "finishing without training" in done.stderr
    assert largest_difference(before, weights(sharded)) == 0.0
    assert "eval" in json.loads((sharded / "train_summary.json").read_text())


@pytest.mark.parametrize("engine", ["zero2", "zero3", "fsdp"])
def test_a_diverging_sharded_run_stops_in_one_line(tmp_path, tiny_model_dir, pairs, engine):
    out = tmp_path / "run"
    done = run(launch(2, *finetune(tiny_model_dir, pairs, out, 4, 12, "--learning-rate", "50",
                                   *engine_flags(tmp_path, engine))), ok=False)
    assert done.returncode != 0
    lines = {line[line.index("gram finetune: error: "):] for line in done.stderr.splitlines()
             if "gram finetune: error: step " in line}  # each rank says it, after a progress bar
    assert len(lines) == 1, done.stderr[-3000:]
    (line,) = lines
    assert "lower --learning-rate (now 50)" in line and ("the loss is" in line or "the gradient's norm is" in line)
    assert not (out / "model.safetensors").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_nodes(tmp_path, *args) -> list[subprocess.CompletedProcess]:
    """Node 0 and node 1, one process each, each in its own working folder (no shared filesystem): relative
    paths name two different folders."""
    port, procs = free_port(), []
    for node in (0, 1):
        (tmp_path / f"node{node}").mkdir(exist_ok=True)
        procs.append(subprocess.Popen(launch(1, *args, nodes=(node, 2, port)), cwd=tmp_path / f"node{node}",
                                      env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=300), *p.communicate()) for p in procs]


def copy_to_both_nodes(tmp_path, *files):
    import shutil

    for node in (0, 1):
        (tmp_path / f"node{node}").mkdir(exist_ok=True)
        for f in files:
            shutil.copy(f, tmp_path / f"node{node}" / f.name)


@pytest.mark.parametrize("command", ["score", "eval", "finetune"])
def test_two_nodes_without_a_shared_folder_are_refused_in_one_line(tmp_path, tiny_model_dir, pairs, command):
    copy_to_both_nodes(tmp_path, pairs)
    args = {"score": ["score", "--model", tiny_model_dir, "--input", pairs.name, "--output", "out/scores.jsonl"],
            "eval": ["eval", "--model", tiny_model_dir, "--benchmark", pairs.name, "--output", "results"],
            "finetune": finetune(tiny_model_dir, pairs.name, "run", 4, 2)}[command]
    for done in two_nodes(tmp_path, *args):
        assert done.returncode != 0
        errors = [line for line in done.stderr.splitlines() if "error:" in line and "cannot see rank 0's files" in line]
        assert errors, done.stderr[-3000:]
        assert not [line for line in done.stderr.splitlines() if 'File "' in line and "/gram/" in line]  # torchrun's own only


def test_two_nodes_sharing_a_folder_score_like_one(tmp_path, tiny_model_dir, pairs):
    """The same two nodes with an absolute output path (one folder both see): the slices are merged."""
    out = tmp_path / "shared" / "scores.jsonl"
    for done in two_nodes(tmp_path, "score", "--model", tiny_model_dir, "--input", pairs, "--output", out):
        assert done.returncode == 0, done.stderr[-3000:]
    one = tmp_path / "one.jsonl"
    run(gram("score", "--model", tiny_model_dir, "--input", pairs, "--output", one))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["score_a"] for r in rows] == pytest.approx([json.loads(line)["score_a"] for line in one.read_text().splitlines()],
                                                     abs=1e-6)
