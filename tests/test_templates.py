import pytest

from gram.templates import (
    ELLIPSIS,
    TemplateError,
    chat_prompt,
    encode_judge,
    fair_caps,
    judge_text,
    label_token_ids,
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
