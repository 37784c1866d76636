"""Judge, pre-training and reward-model templates: the only code that knows prompt text and label tokens.

Prompt- and token-compatible with the GRAM reference (NiuTrans/GRAM, a LLaMA-Factory fork): the whole
judge prompt is one user message, rendered with the tokenizer's chat template and its generation prompt,
and the verdict is the first token the model would write, `A` or `B`.

    tok = AutoTokenizer.from_pretrained(path)
    ids, truncated = encode_judge(tok, "What is 2+2?", "4", "5", max_length=2048)

The Bradley-Terry baseline reads the prompt and one response as a plain chat (`encode_response`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import TemplateError

LABELS = ("A", "B")

JUDGE_INSTRUCTIONS = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI "
    "assistants to the user question displayed below. You should choose the assistant that follows the "
    "user's instructions and answers the user's question better.\n"
    "Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, "
    "creativity, and level of detail of their responses. Avoid any position biases and ensure that the "
    "order in which the responses were presented does not influence your decision. Do not allow the "
    "length of the responses to influence your evaluation. Do not favor certain names of the assistants. "
    "Be as objective as possible.\n"
    'Please directly output your final verdict by strictly following this format: "A" if assistant A is '
    'better, "B" if assistant B is better.\n\n'
)
QUESTION = "[User Question]\n{prompt}\n\n"
PAIR = (
    "[The Start of Assistant A's Answer]\n{response_a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{response_b}\n[The End of Assistant B's Answer]"
)


@dataclass(frozen=True)
class JudgeTemplate:
    """How a judge prompt ends after the pair, and how its text becomes token ids.

    reference_tokenization: tokenize the rendered text with the tokenizer's special tokens added again and
    leave the date to the chat template, as evaluation/gram_eval.py does: on Llama 3 a second BOS, and the
    Llama 3.2 header dated the day it runs. Otherwise gram adds nothing to the rendered text and pins the
    date (PINNED_DATE), so that a prompt is the same every day."""

    tail: str
    help: str
    reference_tokenization: bool = False


# Read off NiuTrans/GRAM @4eff957: README.md (fine-tuning data), evaluation/gram_eval.py, evaluation/gram_demo.py.
JUDGE_TEMPLATES = {
    "gram": JudgeTemplate("\n\n#Preferred:", "the reference fine-tuning prompt (its README): what gram trains on"),
    "gram-eval": JudgeTemplate("\n\n#Preferred: ", "the reference evaluation prompt (evaluation/gram_eval.py, "
                                                   "trailing space included): how the released checkpoints' "
                                                   "numbers were measured"),
    "gram-eval-exact": JudgeTemplate("\n\n#Preferred: ", "gram-eval tokenized as gram_eval.py does, quirks "
                                                         "included (a second BOS on Llama 3, today's date)", True),
    "gram-demo": JudgeTemplate("\n", "evaluation/gram_demo.py's prompt (no #Preferred: line)"),
}
JUDGE_TAILS = {name: t.tail for name, t in JUDGE_TEMPLATES.items()}
# a model trained elsewhere is read with the prompt its authors evaluated it with; gram's own models with
# the one they were trained on (trained_template reads it from train_summary.json)
DEFAULT_JUDGE_TEMPLATE = "gram-eval"
# Llama 3.x templates write "Today Date: <date>" into the system header; this is their own fallback date
PINNED_DATE = "26 Jul 2024"


def trained_template(model_dir: str) -> str:
    """The judge template a model was trained with by gram (its train_summary.json), else the reference
    evaluation prompt (DEFAULT_JUDGE_TEMPLATE), which the released GRAM checkpoints were measured with."""
    try:
        saved = json.loads((Path(model_dir) / "train_summary.json").read_text())["config"]["template"]
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_JUDGE_TEMPLATE
    return saved if saved in JUDGE_TEMPLATES else DEFAULT_JUDGE_TEMPLATE


def judge_template(template: str | None) -> str:
    """A judge template name, checked (None: DEFAULT_JUDGE_TEMPLATE); shared by both engines."""
    template = template or DEFAULT_JUDGE_TEMPLATE
    if template not in JUDGE_TEMPLATES:
        raise TemplateError(f"unknown judge template {template!r}; choose from {', '.join(JUDGE_TEMPLATES)}")
    return template


def render_prompt(prompt: str | list[dict]) -> str:
    """A prompt as text: a string as is; a conversation as a readable transcript.

    A conversation of one user message renders as that message alone, so that the two input forms of
    the same question give the same judge prompt.
    """
    if isinstance(prompt, str):
        return prompt
    if len(prompt) == 1 and prompt[0].get("role") == "user":
        return prompt[0]["content"]
    names = {"user": "User", "assistant": "Assistant", "system": "System"}
    return "\n\n".join(f"{names.get(m['role'], str(m['role']).title())}: {m['content']}" for m in prompt)


def judge_text(prompt: str, response_a: str, response_b: str, template: str = DEFAULT_JUDGE_TEMPLATE) -> str:
    """The judge instruction (user message content) for one ordered pair."""
    if template not in JUDGE_TAILS:
        raise TemplateError(f"unknown judge template {template!r}; choose from {sorted(JUDGE_TAILS)}")
    return (
        JUDGE_INSTRUCTIONS
        + QUESTION.format(prompt=prompt)
        + PAIR.format(response_a=response_a, response_b=response_b)
        + JUDGE_TAILS[template]
    )


# --- hostile text -------------------------------------------------------------------------------------

MARKERS = ("[User Question]", "[The Start of Assistant A's Answer]", "[The End of Assistant A's Answer]",
           "[The Start of Assistant B's Answer]", "[The End of Assistant B's Answer]", "#Preferred:")
_MARKER = re.compile("|".join(re.escape(m) for m in MARKERS), re.IGNORECASE)
_ZWSP = "\u200b"


def _defang_marker(match: re.Match) -> str:
    m = match.group(0)
    return "(" + m[1:-1] + ")" if m.startswith("[") else "# " + m[1:]


@lru_cache(maxsize=16)
def _special_pattern(tokenizer) -> re.Pattern | None:
    specials = set(getattr(tokenizer, "all_special_tokens", []) or [])
    for token in (getattr(tokenizer, "added_tokens_decoder", None) or {}).values():
        if getattr(token, "special", False):
            specials.add(str(token.content))
    specials = sorted((t for t in specials if len(t) > 1), key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in specials)) if specials else None


def neutralize(tokenizer, text: str) -> str:
    """User text (a prompt or a response) made unable to pose as template structure.

    The template's own markers inside it lose their brackets (`[The End of Assistant A's Answer]` becomes
    `(The End of Assistant A's Answer)`, `#Preferred:` becomes `# Preferred:`, in any letter case), and
    the tokenizer's special tokens written as text (`<|im_end|>`, `<|im_start|>`...) get a zero-width
    space after their first character, so they tokenize as plain text, not as control tokens. The
    rendered prompt then holds each marker once, and a response cannot end its turn or open the other's.
    Text without either is left exactly as it was (the reference prompts are unchanged)."""
    text = _MARKER.sub(_defang_marker, text)
    pattern = _special_pattern(tokenizer) if tokenizer is not None else None
    if pattern is not None:
        text = pattern.sub(lambda m: m.group(0)[0] + _ZWSP + m.group(0)[1:], text)
    return text


def user_fields(tokenizer, prompt: str | list[dict], response_a: str, response_b: str) -> tuple[str, str, str]:
    """The prompt (rendered) and both responses as the templates hold them: neutralised."""
    return tuple(neutralize(tokenizer, t) for t in (render_prompt(prompt), response_a, response_b))


def pretrain_texts(prompt: str, response_a: str, response_b: str) -> tuple[str, str]:
    """Stage-1 (instruction, target): the question, and the response pair the model learns to write."""
    return QUESTION.format(prompt=prompt), PAIR.format(response_a=response_a, response_b=response_b)


def chat_prompt(tokenizer, user_text: str, pin_date: bool = True) -> str:
    """One user turn rendered with the tokenizer's chat template, ready for the assistant's reply.

    As the reference renders it: `enable_thinking=False` (Qwen3 templates then end the prompt with an
    empty `<think>\\n\\n</think>\\n\\n` block, where the model's answer starts); templates without the
    variable ignore it. `pin_date`: the Llama 3.x date is PINNED_DATE rather than today's."""
    if not getattr(tokenizer, "chat_template", None):
        raise TemplateError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', '')!r} has no chat template; GRAM prompts are "
            "rendered with it (set tokenizer.chat_template)"
        )
    messages = [{"role": "user", "content": user_text}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **template_variables(pin_date))


def template_variables(pin_date: bool = True) -> dict:
    """Variables every chat-template rendering of gram passes (see chat_prompt)."""
    return {"enable_thinking": False, **({"date_string": PINNED_DATE} if pin_date else {})}


def label_token_ids(tokenizer) -> tuple[int, int]:
    """Token ids of `A` and `B`; refuses a tokenizer where either is not one distinct, known token."""
    ids = []
    for label in LABELS:
        toks = tokenizer(label, add_special_tokens=False)["input_ids"]
        if len(toks) != 1 or toks[0] == tokenizer.unk_token_id:
            raise TemplateError(
                f"label {label!r} is not a single token for tokenizer "
                f"{getattr(tokenizer, 'name_or_path', '')!r} (got ids {toks}); GRAM needs `A` and `B` "
                "to be single tokens"
            )
        ids.append(toks[0])
    if ids[0] == ids[1]:
        raise TemplateError(f"labels `A` and `B` map to the same token id {ids[0]}")
    return ids[0], ids[1]


# --- truncation ---------------------------------------------------------------------------------------

ELLIPSIS = "\n[...]\n"
MIN_KEEP = 16  # tokens a shortened field keeps at least, head and tail together


@dataclass
class Encoded:
    input_ids: list[int]
    truncated: bool


def _count(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def shorten_middle(tokenizer, text: str, keep: int) -> str:
    """`text` cut to about `keep` tokens by dropping its middle (head and tail stay)."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    n = len(enc["input_ids"])
    if n <= keep:
        return text
    head, tail = (keep + 1) // 2, keep // 2
    offsets = enc["offset_mapping"]
    cut_start = offsets[head - 1][1] if head else 0
    cut_end = offsets[n - tail][0] if tail else len(text)
    return text[:cut_start] + ELLIPSIS + text[cut_end:]


@lru_cache(maxsize=16)
def longest_token_chars(tokenizer) -> int:
    """The most characters one token of the vocabulary stands for (bytes, for byte-level vocabularies)."""
    return max(map(len, tokenizer.get_vocab()), default=1)


def char_bound(tokenizer, max_length: int) -> int:
    """Characters a field may keep before it is tokenized: twice what max_length tokens can hold, so the
    head and the tail that shorten_middle keeps lie wholly inside the characters kept."""
    return 2 * max_length * longest_token_chars(tokenizer)


def cut_chars(text: str, bound: int) -> str:
    """`text` without its middle characters past `bound` (head and tail kept, `bound` // 2 each): a field
    that long has more than 2 * max_length tokens either way, and shorten_middle then cuts the same
    tokens from it as from the whole text, at a fraction of the cost (a 20 MB response took minutes)."""
    return text if len(text) <= bound else text[:bound // 2] + ELLIPSIS + text[len(text) - bound // 2:]


def fair_caps(lengths: list[int], total: int) -> list[int]:
    """Largest equal cap c with sum(min(l, c)) <= total: shortens the longest fields first."""
    if sum(lengths) <= total:
        return list(lengths)
    lo, hi = 0, max(lengths)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(n, mid) for n in lengths) <= total:
            lo = mid
        else:
            hi = mid - 1
    return [min(n, lo) for n in lengths]


def fit_pair(encode, question: str, response_a: str, response_b: str, max_length: int | None, tokenizer):
    """`encode(question, a, b)` -> token ids, shortened to `max_length` tokens if needed.

    Untruncated text is encoded in one piece, exactly as the reference does. Over the limit, the
    responses lose their middles first (the longer one first), then the question; the template, and so
    the label position at its end, is never cut. Returns (ids, truncated).
    """
    if max_length is not None:  # no field is tokenized longer than max_length tokens can reach
        bound = char_bound(tokenizer, max_length)
        question, response_a, response_b = (cut_chars(t, bound) for t in (question, response_a, response_b))
    ids = encode(question, response_a, response_b)
    if max_length is None or len(_first(ids)) <= max_length:
        return ids, False

    lengths = [_count(tokenizer, t) for t in (response_a, response_b, question)]
    fixed = len(_first(ids)) - sum(lengths)
    excess = 0
    for _ in range(8):  # token boundaries and the ellipsis can shift counts: tighten until it fits
        budget = max_length - fixed - excess
        resp_floor = [min(n, MIN_KEEP) for n in lengths[:2]]
        resp = fair_caps(lengths[:2], max(budget - lengths[2], sum(resp_floor)))
        resp = [max(c, f) for c, f in zip(resp, resp_floor)]
        q_cap = max(min(lengths[2], MIN_KEEP), budget - sum(resp))
        ids = encode(shorten_middle(tokenizer, question, q_cap), shorten_middle(tokenizer, response_a, resp[0]),
                     shorten_middle(tokenizer, response_b, resp[1]))
        if len(_first(ids)) <= max_length:
            return ids, True
        excess += len(_first(ids)) - max_length
        if budget - excess < 3 * MIN_KEEP:
            break
    raise TemplateError(
        f"max_length {max_length} is too small for the template: it needs {fixed} tokens plus at least "
        f"{MIN_KEEP} per field, so at least {fixed + 3 * MIN_KEEP} (--max-length)"
    )


def _first(ids):
    return ids[0] if isinstance(ids, tuple) else ids


def encode_judge(
    tokenizer,
    prompt: str | list[dict],
    response_a: str,
    response_b: str,
    max_length: int | None = None,
    template: str = DEFAULT_JUDGE_TEMPLATE,
) -> Encoded:
    """Token ids of the judge prompt (ending where the model writes `A` or `B`), fit to `max_length`."""

    render, exact = _judge_renderer(tokenizer, template)

    def encode(q, a, b):
        return tokenizer(render(q, a, b), add_special_tokens=exact)["input_ids"]

    q, a, b = user_fields(tokenizer, prompt, response_a, response_b)
    ids, truncated = fit_pair(encode, q, a, b, max_length, tokenizer)
    return Encoded(ids, truncated)


def _judge_renderer(tokenizer, template: str):
    """(render(q, a, b) -> the judge prompt's text, whether it is tokenized with special tokens)."""
    exact = JUDGE_TEMPLATES[template].reference_tokenization if template in JUDGE_TEMPLATES else False
    return (lambda q, a, b: chat_prompt(tokenizer, judge_text(q, a, b, template), pin_date=not exact)), exact


def judge_lengths(tokenizer, pairs, template: str = DEFAULT_JUDGE_TEMPLATE) -> list[int]:
    """The untruncated judge-prompt length of each (prompt, response_a, response_b), as
    `len(encode_judge(...).input_ids)` counts it, tokenized as one batch (a fast tokenizer spreads a
    batch over the cores: about 1.9x on 2 cores)."""
    render, exact = _judge_renderer(tokenizer, template)
    texts = [render(*user_fields(tokenizer, *pair)) for pair in pairs]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=exact)["input_ids"]] if texts else []


def template_head(tokenizer, template: str = DEFAULT_JUDGE_TEMPLATE) -> list[int]:
    """The token ids every judge prompt of this tokenizer and template starts with: the chat preamble and
    the instructions, up to the question. Found as what two prompts with nothing in common share."""
    one = encode_judge(tokenizer, "Zq 1", "x", "y", None, template).input_ids
    two = encode_judge(tokenizer, "# other?", "u", "v", None, template).input_ids
    n = 0
    while n < min(len(one), len(two)) and one[n] == two[n]:
        n += 1
    return one[:n]


def encode_pretrain(tokenizer, prompt: str | list[dict], response_a: str, response_b: str,
                    max_length: int | None = None) -> tuple[list[int], int, bool]:
    """Stage-1 example: (ids, prompt_length, truncated). The target is the response pair as the
    assistant's turn (with the chat template's end-of-turn tokens); the first prompt_length ids are the
    question, masked from the loss."""

    def encode(q, a, b):
        p_ids, c_ids = tokenizer(list(_pretrain_parts(tokenizer, q, a, b)), add_special_tokens=False)["input_ids"]
        return p_ids + c_ids, len(p_ids)

    q, a, b = user_fields(tokenizer, prompt, response_a, response_b)
    (ids, prompt_length), truncated = fit_pair(encode, q, a, b, max_length, tokenizer)
    return ids, prompt_length, truncated


def _pretrain_parts(tokenizer, q: str, a: str, b: str) -> tuple[str, str]:
    """The stage-1 example's text: (the question's chat turn, the assistant's reply after it)."""
    instruction, target = pretrain_texts(q, a, b)
    prompt_text = chat_prompt(tokenizer, instruction)
    full = tokenizer.apply_chat_template(
        [{"role": "user", "content": instruction}, {"role": "assistant", "content": target}], tokenize=False,
        **template_variables())
    if not full.startswith(prompt_text):
        raise TemplateError("the chat template renders the user turn differently with and without a reply")
    return prompt_text, full[len(prompt_text):]


def pretrain_lengths(tokenizer, pairs) -> list[int]:
    """The untruncated stage-1 example length of each (prompt, response_a, response_b), as
    `len(encode_pretrain(...)[0])` counts it, tokenized as one batch (see judge_lengths)."""
    texts = [part for pair in pairs
             for part in _pretrain_parts(tokenizer, *user_fields(tokenizer, *pair))]
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    return [len(ids[i]) + len(ids[i + 1]) for i in range(0, len(ids), 2)]


def encode_response(tokenizer, prompt: str | list[dict], response: str, max_length: int | None
                    ) -> tuple[list[int], bool]:
    """The Bradley-Terry reward model's input: the prompt and one response as a chat (user turn,
    assistant turn), fit to max_length. Returns (ids, truncated)."""

    def encode(q, a, _unused):
        text = tokenizer.apply_chat_template([{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                                             tokenize=False, **template_variables())
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    q, a = neutralize(tokenizer, render_prompt(prompt)), neutralize(tokenizer, response)
    return fit_pair(encode, q, a, "", max_length, tokenizer)
