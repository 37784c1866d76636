"""gram.data.cleaning: what is dropped and why (empty, identical, garbled, over a token limit), and
duplicates found whatever their order, case and spacing."""

from gram.data.cleaning import clean, dedup, is_garbled
from gram.records import PreferencePair


def test_cleaning_reasons():
    pairs = [PreferencePair("q", "fine", "also fine"), PreferencePair("q", " ", "x"),
             PreferencePair("q", "Same  text", "same text"), PreferencePair("q", "bad \ufffd", "x"),
             PreferencePair("q", "caf\u00c3\u00a9", "x"), PreferencePair("", "a", "b")]
    kept, dropped = clean(pairs)
    assert [p.response_a for p in kept] == ["fine"]
    assert dropped == {"empty response": 1, "identical responses": 1, "garbled text": 2, "empty prompt": 1}
    assert not is_garbled("naïve café — “quotes” 日本語")


def test_cleaning_by_tokens(tiny_tokenizer):
    long = PreferencePair("q", "word " * 400, "x")
    kept, dropped = clean([PreferencePair("q", "a", "b"), long], tiny_tokenizer, max_tokens=800)
    assert len(kept) == 1 and dropped == {"longer than 800 tokens": 1}


def test_dedup_ignores_order_case_and_spaces():
    pairs = [PreferencePair("Q", "a", "b", "a"), PreferencePair("q ", "B", "A", "b"), PreferencePair("q", "a", "c")]
    kept, removed = dedup(pairs)
    assert removed == 1 and len(kept) == 2
