"""Tiny models built in the test session: a byte-level BPE tokenizer with a ChatML template and a
2-layer random-init Llama. Nothing comes from a hub."""

from __future__ import annotations

import os

import pytest
import torch

# `--dtype auto` means bf16 on a CPU with AMX or AVX512-BF16: the suite pins fp32 on every CPU (subprocesses
# inherit it), so that it asserts the same figures wherever CI runs; tests of the choice set it themselves.
os.environ["GRAM_CPU_BF16"] = "0"

# Under pytest-xdist (`pytest -n 2`, the README's command) each worker, and each process it starts, gets
# its share of the cores: two workers of all the cores each would oversubscribe them.
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = threads
    torch.set_num_threads(int(threads))

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

CORPUS = [
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants.",
    "[User Question] [The Start of Assistant A's Answer] [The End of Assistant A's Answer] #Preferred:",
    "[The Start of Assistant B's Answer] [The End of Assistant B's Answer] User: Assistant: System:",
    "What is the capital of France? Paris is the capital. The answer is 42. def f(x): return x * x",
    "the quick brown fox jumps over the lazy dog " * 3,
] * 20


def make_tokenizer(vocab_size: int = 400):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<pad>")
    fast.chat_template = CHATML
    return fast


def make_model(vocab_size: int, seed: int = 0, layers: int = 2, hidden: int = 32, heads: int = 4,
               head_scale: float = 40.0):
    """A random-init Llama; vLLM's CPU attention needs a head size of 32 or more (hidden 64, heads 2)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads // 2,
                         max_position_embeddings=4096,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    # random init gives near-uniform logits; a larger lm head makes probabilities far from 0.5
    with torch.no_grad():
        model.lm_head.weight.mul_(head_scale)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return make_tokenizer()


@pytest.fixture(scope="session")
def tiny_model(tiny_tokenizer):
    return make_model(len(tiny_tokenizer))


@pytest.fixture(scope="session")
def vllm_model_dir(tmp_path_factory, tiny_tokenizer):
    """A tiny Llama whose head size (32) vLLM's CPU attention supports."""
    path = tmp_path_factory.mktemp("tiny-llama-vllm")
    make_model(len(tiny_tokenizer), hidden=64, heads=2, head_scale=8).save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_model, tiny_tokenizer):
    path = tmp_path_factory.mktemp("tiny-llama")
    tiny_model.save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def rr_format_model_dir(tmp_path_factory, tiny_tokenizer):
    """A tiny Llama (head size 32: vLLM loads it too) taught, by 160 SFT steps on GRAM-R²'s rendered prompts,
    to answer with helpers.RR_ANSWER and its end token: what it writes is generated, not scripted."""
    from helpers import RR_ANSWER, RR_PAIRS

    from gram.scoring.protocols import PROTOCOLS

    tok, rr = tiny_tokenizer, PROTOCOLS["gram-rr"]
    model = make_model(len(tok), hidden=64, heads=2, head_scale=1).train()
    target = tok(RR_ANSWER, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    rows = []
    for p in RR_PAIRS[:2]:
        for a, b in ((p.response_a, p.response_b), (p.response_b, p.response_a)):
            rows.append((tok(rr.render(tok, p.prompt, a, b), add_special_tokens=False)["input_ids"], target))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    for step in range(160):
        loss = 0.0
        for prompt, answer in rows[step % 2::2]:
            labels = torch.tensor([[-100] * len(prompt) + answer])
            loss = loss + model(input_ids=torch.tensor([prompt + answer]), labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = tmp_path_factory.mktemp("rr-format")
    model.eval().save_pretrained(path)
    tok.save_pretrained(path)
    return path
