"""Golden tests: the judge prompt gram renders for the released checkpoints' base models equals the GRAM
reference's rendering, text and token ids, with the real chat templates (../shared/chat-templates) set on
tiny tokenizers built here. The reference rendering is written (tests/helpers.py, reference_render) the
way NiuTrans/GRAM @4eff957 evaluation/gram_eval.py does it; its prompt is copied verbatim from that file.

- `gram-eval`: the reference prompt and rendering, except that the rendered text is not given its special
  tokens a second time (no second BOS on Llama 3) and the Llama 3.x date is pinned.
- `gram-eval-exact`: byte for byte what gram_eval.py feeds the model, those two quirks included.
- Stage 1 on Qwen3 masks exactly LLaMA-Factory's prompt part (its qwen3 template with enable_thinking:
  false, as the reference's examples/train_full/qwen3_*_rm.yaml set it).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from helpers import REFERENCE_PAIRS as PAIRS
from helpers import reference_render

from gram.templates import PINNED_DATE, encode_judge, encode_pretrain, pretrain_texts

TEMPLATES = Path(__file__).resolve().parents[2] / "shared" / "chat-templates"


FAMILIES = {
    # template file: (special tokens, bos token or None, eos token)
    "Qwen-Qwen3-0.6B.jinja": (["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"], None,
                              "<|im_end|>"),
    "meta-llama-Llama-3.1-8B-Instruct.jinja": (
        ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
         "<|eom_id|>", "<|python_tag|>"], "<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.2-3B-Instruct.jinja": (
        ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
         "<|eom_id|>", "<|python_tag|>"], "<|begin_of_text|>", "<|eot_id|>"),
}


def family_tokenizer(name: str):
    """A byte-level BPE tokenizer with the family's special tokens and BOS behaviour, and its real chat
    template (Llama 3 tokenizers prepend <|begin_of_text|> when special tokens are added; Qwen3's add none)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from conftest import CORPUS

    specials, bos, eos = FAMILIES[name]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=500, special_tokens=specials, show_progress=False,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    if bos:
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                           special_tokens=[(bos, tok.token_to_id(bos))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, pad_token=eos)
    fast.chat_template = (TEMPLATES / name).read_text()
    return fast


pytestmark = pytest.mark.skipif(not TEMPLATES.is_dir(), reason="../shared/chat-templates is not here")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_gram_eval_is_the_reference_prompt(name):
    tok = family_tokenizer(name)
    for question, a, b in PAIRS:
        text, _ = reference_render(tok, question, a, b, date_string=PINNED_DATE)
        ids = encode_judge(tok, question, a, b, template="gram-eval").input_ids
        assert ids == tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text
        if "Qwen3" in name:  # the answer starts after the empty think block, as in the reference
            assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
        else:  # one BOS, and a date that does not change with the day
            assert ids.count(tok.bos_token_id) == 1 and f"Today Date: {PINNED_DATE}" in text


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_gram_eval_exact_is_what_gram_eval_py_feeds_the_model(name):
    tok = family_tokenizer(name)
    for question, a, b in PAIRS:
        text, reference_ids = reference_render(tok, question, a, b)
        assert encode_judge(tok, question, a, b, template="gram-eval-exact").input_ids == reference_ids
    if "Llama" in name:  # the quirks it reproduces
        assert reference_ids[:2] == [tok.bos_token_id] * 2
        if "3.2" in name:
            assert datetime.date.today().strftime("%d %b %Y") in text


def test_stage_one_masks_the_reference_prompt_part_on_qwen3():
    """LLaMA-Factory's qwen3 template (NiuTrans/GRAM src/llamafactory/data/template.py): the user turn
    `<|im_start|>user\\n{content}<|im_end|>\\n<|im_start|>assistant\\n`, then, with enable_thinking false,
    the empty thought `<think>\\n\\n</think>\\n\\n` added to the prompt ids (no loss on it); the target is
    `{content}<|im_end|>\\n`."""
    tok = family_tokenizer("Qwen-Qwen3-0.6B.jinja")
    for question, a, b in PAIRS:
        instruction, target = pretrain_texts(question, a, b)
        prompt_part = f"<|im_start|>user\n{instruction}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
        ids, prompt_length, truncated = encode_pretrain(tok, question, a, b)
        assert not truncated
        assert ids[:prompt_length] == tok(prompt_part, add_special_tokens=False)["input_ids"]
        assert ids[prompt_length:] == tok(f"{target}<|im_end|>\n", add_special_tokens=False)["input_ids"]
