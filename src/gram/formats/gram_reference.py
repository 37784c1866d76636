"""The GRAM reference repository's training JSON (LLaMA-Factory alpaca style), read and written:

    pre-training:  {"instruction": "[User Question]\n{x}\n\n", "input": "", "output": "<the response pair>"}
    fine-tuning:   {"instruction": "<the judge prompt with x, A and B, ending in #Preferred:>", "input": "",
                    "output": "A" or "B"}
"""

from __future__ import annotations

from ..records import PreferencePair
from ..templates import JUDGE_INSTRUCTIONS, judge_text, neutralize, pretrain_texts, render_prompt
from .base import Item, register

Q_START = "[User Question]\n"
A_START, A_END = "[The Start of Assistant A's Answer]\n", "\n[The End of Assistant A's Answer]"
B_START, B_END = "\n\n[The Start of Assistant B's Answer]\n", "\n[The End of Assistant B's Answer]"


def _between(item: Item, text: str, start: str, end: str, pos: int, field: str) -> tuple[str, int]:
    """The answer between a start and an end marker. The newline before an end marker is optional: the
    reference README's own pre-training example has none before `[The End of Assistant A's Answer]`."""
    bare = end.lstrip("\n")
    i = text.find(start, pos)
    j = text.rfind(bare) if end == B_END else text.find(bare, i + len(start))
    if i < 0 or j < 0 or j < i + len(start):
        raise item.error(field, f"expected {start.strip()!r} ... {end.strip()!r}")
    answer = text[i + len(start):j]
    return answer.removesuffix("\n"), j + len(bare)


def parse_pair_block(item: Item, text: str, field: str) -> tuple[str, str]:
    # B's end marker is searched from the right, A's from the left: answers may quote marker-like text
    # only inside B's answer and still parse
    a, pos = _between(item, text, A_START, A_END, 0, field)
    b, _ = _between(item, text, B_START.lstrip("\n"), B_END, pos, field)
    return a, b


@register("gram-finetune", "pairs", "GRAM reference fine-tuning JSON (judge prompt -> A/B)")
def gram_finetune(item: Item):
    text = item.text("instruction")
    output = item.text("output").strip()
    if output not in ("A", "B"):
        raise item.error("output", f"expected 'A' or 'B', got {output!r}")
    if not text.startswith(JUDGE_INSTRUCTIONS[:40]):
        raise item.error("instruction", "not the GRAM judge prompt")
    start = text.find(Q_START)
    end = text.find("\n\n" + A_START)
    if start < 0 or end < start:
        raise item.error("instruction", "missing '[User Question]' before Assistant A's answer")
    prompt = text[start + len(Q_START):end]
    a, b = parse_pair_block(item, text[end:], "instruction")
    return [PreferencePair(prompt, a, b, output.lower(), source="gram-finetune", meta={"index": item.index})]


def unescape_markers(text: str) -> str:
    """The reference's data/clean_data.py writes its markers with raw strings (r"[User Question]\\n"), so
    its stage-1 JSON holds a backslash and an `n` where the layout has newlines. Those next to a marker
    become newlines; a literal `\\n` inside an answer is left as it is."""
    for marker in (Q_START, A_START, B_START.lstrip("\n")):
        text = text.replace(marker.replace("\n", "\\n"), marker)
    for marker in (A_END.lstrip("\n"), B_END.lstrip("\n")):
        text = text.replace("\\n" + marker, "\n" + marker).replace(marker + "\\n\\n", marker + "\n\n")
    if text.endswith("\\n\\n"):  # the question's end in the instruction
        text = text[:-4] + "\n\n"
    return text


@register("gram-pretrain", "pairs", "GRAM reference pre-training JSON (question -> response pair), unlabeled")
def gram_pretrain(item: Item):
    instruction = unescape_markers(item.text("instruction"))
    if not instruction.startswith(Q_START):
        raise item.error("instruction", "expected it to start with '[User Question]\\n'")
    prompt = instruction[len(Q_START):].removesuffix("\n\n")
    extra = item.obj().get("input") or ""
    if extra:
        prompt = f"{prompt}\n{extra}"
    a, b = parse_pair_block(item, unescape_markers(item.text("output")), "output")
    return [PreferencePair(prompt, a, b, None, source="gram-pretrain", meta={"index": item.index})]


def to_finetune(pair: PreferencePair, template: str = "gram") -> dict:
    """A labeled pair as a reference fine-tuning row (ties have no reference form)."""
    if pair.label not in ("a", "b"):
        raise ValueError("only pairs labeled a or b can be written as GRAM fine-tuning rows")
    q, a, b = (neutralize(None, t) for t in (render_prompt(pair.prompt), pair.response_a, pair.response_b))
    return {"instruction": judge_text(q, a, b, template),
            "input": "", "output": pair.label.upper()}


def to_pretrain(pair: PreferencePair) -> dict:
    q, a, b = (neutralize(None, t) for t in (render_prompt(pair.prompt), pair.response_a, pair.response_b))
    instruction, output = pretrain_texts(q, a, b)
    return {"instruction": instruction, "input": "", "output": output}
