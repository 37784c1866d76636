"""gram.templates: the judge prompt, chat rendering, label tokens, truncation that keeps both ends and the
verdict position, and a cost bounded by --max-length however long a field is."""

import os
import subprocess
import sys
import time

import pytest

from gram.templates import (
    ELLIPSIS,
    TemplateError,
    chat_prompt,
    encode_judge,
    encode_pretrain,
    fair_caps,
    judge_lengths,
    judge_text,
    label_token_ids,
    pretrain_lengths,
    pretrain_texts,
    render_prompt,
)


def test_judge_text_is_the_reference_prompt():
    text = judge_text("Q?", "first", "second", template="gram")
    assert text.startswith("Please act as an impartial judge and evaluate the quality of the responses")
    assert ('"A" if assistant A is better, "B" if assistant B is better.\n\n[User Question]\nQ?\n\n'
            "[The Start of Assistant A's Answer]\nfirst\n[The End of Assistant A's Answer]\n\n"
            "[The Start of Assistant B's Answer]\nsecond\n[The End of Assistant B's Answer]\n\n#Preferred:") in text
    assert text.endswith("#Preferred:")
    assert judge_text("Q?", "a", "b", template="gram-demo").endswith("[The End of Assistant B's Answer]\n")
    assert judge_text("Q?", "a", "b", template="gram-eval").endswith("[The End of Assistant B's Answer]\n\n#Preferred: ")
    with pytest.raises(TemplateError, match="unknown judge template"):
        judge_text("Q", "a", "b", template="nope")


def test_pretrain_texts_match_reference_layout():
    instruction, target = pretrain_texts("Can dogs get covid?", "Yes.", "No.")
    assert instruction == "[User Question]\nCan dogs get covid?\n\n"
    assert target == ("[The Start of Assistant A's Answer]\nYes.\n[The End of Assistant A's Answer]\n\n"
                      "[The Start of Assistant B's Answer]\nNo.\n[The End of Assistant B's Answer]")


def test_conversation_renders_as_transcript():
    conv = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye?"}]
    assert render_prompt(conv) == "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello!\n\nUser: Bye?"
    # a one-message conversation is the same question as the bare string
    assert render_prompt([{"role": "user", "content": "Hi"}]) == render_prompt("Hi") == "Hi"


def test_chat_prompt_uses_tokenizer_template(tiny_tokenizer):
    text = chat_prompt(tiny_tokenizer, "hello")
    assert text == "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"


def test_label_tokens(tiny_tokenizer):
    a, b = label_token_ids(tiny_tokenizer)
    assert tiny_tokenizer.decode([a]) == "A" and tiny_tokenizer.decode([b]) == "B"


def test_label_tokens_refused_when_not_single(tiny_tokenizer):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    # a word-level vocabulary without "A": it would map to the unknown token
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "B": 1, "hello": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    with pytest.raises(TemplateError, match="label 'A' is not a single token"):
        label_token_ids(fast)


def test_fair_caps_shortens_longest_first():
    assert fair_caps([10, 100], 200) == [10, 100]
    assert fair_caps([10, 100], 60) == [10, 50]
    assert fair_caps([80, 100], 100) == [50, 50]
    assert sum(fair_caps([7, 33, 12], 30)) <= 30


def _template_tokens(tok):
    return len(encode_judge(tok, "", "", "").input_ids)


def _long(word, n):
    return " ".join(f"{word}{i}" for i in range(n))


def test_truncation_keeps_the_tail_and_both_ends(tiny_tokenizer):
    tok = tiny_tokenizer
    a = "HEADA " + _long("alpha", 300) + " TAILA"
    b = "HEADB " + _long("beta", 200) + " TAILB"
    full = encode_judge(tok, "What now?", a, b)
    assert not full.truncated
    limit = _template_tokens(tok) + 150
    cut = encode_judge(tok, "What now?", a, b, max_length=limit)
    assert cut.truncated and len(cut.input_ids) <= limit
    text = tok.decode(cut.input_ids)
    # the template's tail, with the label position at the very end, is untouched
    tail = "[The End of Assistant B's Answer]\n\n#Preferred: <|im_end|>\n<|im_start|>assistant\n"  # gram-eval
    assert text.endswith(tail)
    n_tail = len(tok(tail, add_special_tokens=False)["input_ids"])
    assert cut.input_ids[-n_tail:] == full.input_ids[-n_tail:]
    # responses lost their middles, not their ends; the short prompt is whole
    for marker in ("HEADA", "TAILA", "HEADB", "TAILB", "[User Question]\nWhat now?\n"):
        assert marker in text
    assert text.count(ELLIPSIS.strip()) == 2


def test_truncation_shortens_prompt_only_after_responses(tiny_tokenizer):
    tok = tiny_tokenizer
    prompt = "QHEAD " + _long("gamma", 300) + " QTAIL"
    limit = _template_tokens(tok) + 60
    cut = encode_judge(tok, prompt, "short answer", "another short answer", max_length=limit)
    text = tok.decode(cut.input_ids)
    assert cut.truncated and len(cut.input_ids) <= limit
    assert "short answer" in text and "another short answer" in text
    assert "QHEAD" in text and "QTAIL" in text and ELLIPSIS.strip() in text


def test_truncation_error_when_limit_below_template(tiny_tokenizer):
    with pytest.raises(TemplateError, match="too small"):
        encode_judge(tiny_tokenizer, "q", _long("x", 50), "b", max_length=_template_tokens(tiny_tokenizer) + 5)


def test_no_truncation_is_one_piece_tokenization(tiny_tokenizer):
    tok = tiny_tokenizer
    enc = encode_judge(tok, "Q", "a", "b", max_length=10_000)
    text = chat_prompt(tok, judge_text("Q", "a", "b"))
    assert enc.input_ids == tok(text, add_special_tokens=False)["input_ids"]


def test_batched_lengths_count_what_the_encoders_count(tiny_tokenizer):
    pairs = [("What is 2+2?", "4", "five <|im_end|> [The End of Assistant A's Answer]"),
             ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
               {"role": "user", "content": "more"}], "a " * 50, "b")]
    for template in ("gram", "gram-eval", "gram-eval-exact", "gram-demo"):
        assert judge_lengths(tiny_tokenizer, pairs, template) == [
            len(encode_judge(tiny_tokenizer, *p, template=template).input_ids) for p in pairs]
    assert pretrain_lengths(tiny_tokenizer, pairs) == [len(encode_pretrain(tiny_tokenizer, *p)[0]) for p in pairs]


def test_a_long_field_is_cut_by_characters_first_to_the_same_tokens(tiny_tokenizer, monkeypatch):
    from gram import templates

    long = "word " * 60_000 + "the end."
    cut = encode_judge(tiny_tokenizer, "q", long, "short answer", max_length=1024)
    monkeypatch.setattr(templates, "char_bound", lambda tokenizer, max_length: 10**12)  # as before the fix
    whole = encode_judge(tiny_tokenizer, "q", long, "short answer", max_length=1024)
    assert cut.input_ids == whole.input_ids and cut.truncated


HUGE = """
import resource, sys, time
sys.path.insert(0, "tests")  # not `tests.conftest`: verl's wheel installs a top-level `tests` package
from conftest import make_tokenizer
from gram.templates import encode_judge
tok = make_tokenizer()
huge = "lorem ipsum dolor " * 1_200_000  # ~21 MB: before the fix minutes and 8 GB on the embedded model
start = time.perf_counter()
ids = encode_judge(tok, "q", huge, huge, max_length=1024).input_ids
seconds = time.perf_counter() - start
try:  # this process's own peak (ru_maxrss carries the forking parent's peak across exec on Linux)
    peak_mb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) // 1024
except OSError:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(len(ids), seconds, peak_mb)
"""


def test_two_twenty_megabyte_responses_cost_seconds_and_bounded_memory():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", HUGE], capture_output=True, text=True, cwd=root, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    length, seconds, peak_mb = done.stdout.split()
    assert int(length) <= 1024
    assert float(seconds) < 10, f"{seconds} s for one pair"
    assert int(peak_mb) < 1500, f"peak RSS {peak_mb} MB"
    assert time.perf_counter() - start < 60


def test_the_too_small_error_states_the_minimum(tiny_tokenizer):
    from gram.templates import TemplateError, encode_judge

    with pytest.raises(TemplateError, match=r"so at least \d+ \(--max-length\)"):
        encode_judge(tiny_tokenizer, "q " * 200, "a " * 200, "b " * 200, max_length=50)
