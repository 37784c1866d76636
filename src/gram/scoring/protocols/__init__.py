"""Reasoning judges' protocols: what a rationale-then-verdict judge reads and how its verdict is read back.

A protocol is prompt text, a parser and its authors' sampling settings, one small file each, pinned to its
authors' own prompt and parser by golden tests (tests/scoring/test_protocols.py); no engine code. An engine
renders `protocol.messages(...)` with the model's chat template, samples a rationale, and either parses the
verdict (`protocol.parse`, the authors' hard verdict) or reads P(A) against P(B) at the label position after
`protocol.until_label(...)` (gram's soft score).

    from gram.scoring.protocols import PROTOCOLS
    rr = PROTOCOLS["gram-rr"]
    rr.messages("What is 2+2?", "4", "5")      # [{"role": "user", "content": ...}]
    rr.parse("<think>...</think>\\n<answer>\\nA\\n</answer>")   # "A"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ...options import opt
from ...templates import PINNED_DATE, render_prompt


@dataclass(frozen=True)
class Protocol:
    name: str
    user: str  # the user message, the authors' text: its three slots hold the prompt and the two responses
    parse: Callable[[str], str | None]  # generated text -> "A", "B", or None (no verdict)
    label_opening: str  # a regex: what the model writes right before its label ("<answer>\s*")
    forced_opening: str  # what gram writes there when the model did not ("<answer>\n")
    rationale_end: str = ""  # what closes the rationale ("</think>"), if the format has a closing mark
    labels: tuple[str, str] = ("A", "B")  # the label texts the model writes right after the label opening
    system: str | None = None
    temperature: float = 0.0  # the authors' sampling settings (a stated default, or 0: greedy)
    top_p: float = 1.0
    max_new_tokens: int = 2048
    source: str = ""  # where the prompt, parser and settings were read
    slots: tuple[str, str, str] = ("prompt", "response_a", "response_b")  # the authors' placeholder names
    extra: tuple[tuple[str, str], ...] = ()  # other placeholders the authors fill, and with what (a rubric)

    def messages(self, prompt, response_a: str, response_b: str) -> list[dict]:
        """The chat messages for one ordered pair (a conversation prompt as a transcript, as gram's judge)."""
        values = dict(zip(self.slots, (render_prompt(prompt), response_a, response_b)), **dict(self.extra))
        user = self.user.format(**values)
        return ([{"role": "system", "content": self.system}] if self.system else []) + [{"role": "user", "content": user}]

    def render(self, tokenizer, prompt, response_a: str, response_b: str) -> str:
        """The text the model reads: the messages with its chat template and generation prompt, the Llama
        3.x date pinned (gram.templates.PINNED_DATE), no thinking block added by Qwen3 templates. A template
        without a system role gets the system text at the start of the user message (as Prometheus'
        eval/run_evaluate.py does)."""
        messages = self.messages(prompt, response_a, response_b)
        if self.system and "system" not in (getattr(tokenizer, "chat_template", None) or ""):
            messages = [{"role": "user", "content": self.system + messages[1]["content"]}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                             enable_thinking=False, date_string=PINNED_DATE)

    def until_label(self, generated: str) -> tuple[str, bool]:
        """The generated text up to the label position, and whether gram had to force it: cut after the first
        label opening that follows the rationale's end; a rationale the thinking budget cut short is closed
        (`rationale_end`, on a line of its own) and given `forced_opening`."""
        end = generated.find(self.rationale_end) if self.rationale_end else -1
        after = end + len(self.rationale_end) if end >= 0 else 0
        match = re.compile(self.label_opening).search(generated, after)
        if match and match.end() == len(generated):  # the text stops inside the opening: gram writes it whole
            return generated[:match.start()] + self.forced_opening, True
        if match and (end >= 0 or not self.rationale_end):
            return generated[:match.end()], False
        if end >= 0:  # the rationale closed, no opening written after it
            return generated[:after] + "\n" + self.forced_opening, True
        closing = f"\n{self.rationale_end}\n" if self.rationale_end else "\n"
        return generated + closing + self.forced_opening, True


def last_tagged(text: str, open_tag: str, close_tag: str) -> str | None:
    """The content of the last `open_tag ... close_tag` block (an unclosed last block runs to the end)."""
    at = text.rfind(open_tag)
    if at < 0:
        return None
    content = text[at + len(open_tag):]
    end = content.find(close_tag)
    return content if end < 0 else content[:end]


def first_label(text: str | None, pattern: str = r"\s*([AB])\b") -> str | None:
    """"A" or "B" where `text` starts with one (case as written), else None."""
    match = re.match(pattern, text) if text is not None else None
    return match.group(1) if match else None


def _registry() -> dict[str, Protocol]:
    from .gram_rr import GRAM_RR
    from .prometheus2 import PROMETHEUS2
    from .rm_r1 import RM_R1, RM_R1_REASONING

    return {p.name: p for p in (GRAM_RR, RM_R1, RM_R1_REASONING, PROMETHEUS2)}


PROTOCOLS = _registry()


@dataclass
class ReasoningOptions:
    """How a reasoning judge reads pairs: the flags of the judging commands (score, rank, eval, bon), the
    `reasoning` of gram.scoring.load_judge (`judge_kwargs` names them as the judges do), and (every field)
    part of a job's `--resume` identity. The sampling flags say `think` so that they never meet a command's
    own `--seed` or `--temperature` (the ranking's, the sample's, the policy's)."""

    protocol: str | None = opt(None, "read the model as a reasoning judge: a rationale, then its verdict (default: "
                                     "gram-rr for GRAM-RR checkpoints, else none: the one-token judge)",
                               choices=tuple(PROTOCOLS))
    samples: int = opt(1, "reasoning: rationales sampled per order (voting@k; soft scores averaged, verdicts counted)",
                       at_least=1)
    think_temperature: float | None = opt(None, "reasoning: sampling temperature of the rationales (default: the "
                                                "protocol authors', 0 = greedy)", at_least=0)
    think_top_p: float | None = opt(None, "reasoning: nucleus sampling mass of the rationales (default: the protocol "
                                          "authors')", above=0, at_most=1)
    max_think_tokens: int | None = opt(None, "reasoning: tokens a rationale may take; one that runs out is closed "
                                             "and its answer forced, counted as think_truncated (default: the "
                                             "authors' max_tokens)", at_least=1)
    think_seed: int = opt(0, "reasoning: the seed each pair's rationales derive from (with the pair's content)")
    rationales: bool = opt(True, "reasoning: keep each rationale in the output rows")


JUDGE_KWARGS = {"think_temperature": "temperature", "think_top_p": "top_p", "think_seed": "seed"}


def judge_kwargs(reasoning: dict) -> dict:
    """ReasoningOptions' values as the reasoning judges' keyword arguments (`think_seed` is their `seed`);
    names that already are theirs pass as they are."""
    return {JUDGE_KWARGS.get(name, name): value for name, value in reasoning.items()}


def label_reading(tokenizer, protocol: Protocol) -> tuple[list[int], str]:
    """(the token ids read at the label position, text to add after the label opening first). The
    protocol's labels where each is one token (Prometheus 2's " A": the space is the model's, written with
    the letter); otherwise `A` and `B` (gram.templates.label_token_ids) after the labels' leading space."""
    from ...templates import label_token_ids

    ids = [tokenizer(label, add_special_tokens=False)["input_ids"] for label in protocol.labels]
    if all(len(i) == 1 for i in ids) and ids[0] != ids[1]:
        return [ids[0][0], ids[1][0]], ""
    lead = protocol.labels[0][:len(protocol.labels[0]) - len(protocol.labels[0].lstrip())]
    return list(label_token_ids(tokenizer)), lead
