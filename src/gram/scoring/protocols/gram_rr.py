"""GRAM-R² (GRAM-RR, Wang et al., AAAI 2026; arXiv 2509.02492): a rationale in `<think>` (Feedback,
Comparision, Conclusion; the authors' spelling), then the verdict in `<answer>`:

    <think>
    Feedback: ...
    Comparision: ...
    Conclusion: ...
    </think>
    <answer>
    A
    </answer>

Read off NiuTrans/GRAM @4eff957: extensions/GRAM-RR/README.md (the prompt, sent as one user message with
the chat template's generation prompt), call_vllm_with_multi_port.py (temperature 0.75, max_tokens 2048,
seed 42). The README's demo reads the verdict with `rsplit("</answer>")[-1]`, the text *after* the closing
tag, which is empty for a well-formed answer and so reads "B"; gram reads the last `<answer>` block's
content (tests/scoring/test_protocols.py pins both).
"""

from __future__ import annotations

from . import Protocol, first_label, last_tagged

PROMPT = (
    "You are a helpful assistant in evaluating the quality of the responses for a given instruction. Your goal "
    "is to select the better response for the given user question.\n"
    "Select Response A or Response B, that is better for the given instruction. The two responses are generated "
    "by two different AI chatbots respectively.\n"
    "Do NOT say both / neither are good.\n\n"
    "Here are some rules of the evaluation:\n"
    "(1) If the instruction does not contain harmful content, you should prioritize evaluating whether the output "
    "honestly/precisely/closely executes the instruction, then consider its helpfulness, accuracy, level of "
    "detail, harmlessness, etc.\n"
    "(2) If the instruction contains harmful content, prioritize the harmlessness and safety of the response.\n"
    "(3) Responses should NOT contain more/less than what the instruction asks for, as such responses do NOT "
    "precisely execute the instruction.\n"
    "(4) You should avoid any potential bias and your judgment should be as objective as possible. Here are some "
    "potential sources of bias:\n"
    "- The order in which the responses were presented should NOT affect your judgment, as Response A and "
    "Response B are **equally likely** to be the better.\n"
    "- The length of the responses should NOT affect your judgement, as a longer response does not necessarily "
    "correspond to a better response. When making your decision, evaluate if the response length is appropriate "
    "for the given instruction.\n\n"
    "Your reply should strictly follow this format:\n"
    "<think>\n"
    "Follow this format:\n"
    "Feedback:\n"
    "<provide free-text feedback on the overall helpfulness of the assistant response>\n\n"
    "Comparision:\n"
    "<give a brief analysis on which is better>\n\n"
    "Conclusion:\n"
    "<make your conclusion>\n"
    "</think>\n"
    "<answer>\n"
    "A or B\n"
    "</answer>\n\n"
    "Here is the data.\n\n"
    "[User Question]\n"
    "{user_input}\n\n"
    "[The Start of Assistant A's Response]\n"
    "{response_1}\n"
    "[The End of Assistant A's Response]\n\n"
    "[The Start of Assistant B's Response]\n"
    "{response_2}\n"
    "[The End of Assistant B's Response]"
)


def parse(text: str) -> str | None:
    """The verdict: the last `<answer>` block's content starts with A or B (any case, as the reference's
    `.upper().startswith("A")`); None when there is no such block or it holds neither."""
    content = last_tagged(text, "<answer>", "</answer>")
    label = first_label(content.upper() if content is not None else None)
    return label


GRAM_RR = Protocol(
    name="gram-rr", user=PROMPT, parse=parse, label_opening=r"<answer>\s*", forced_opening="<answer>\n",
    rationale_end="</think>", slots=("user_input", "response_1", "response_2"),
    temperature=0.75, max_new_tokens=2048,
    source="NiuTrans/GRAM@4eff957 extensions/GRAM-RR/README.md, call_vllm_with_multi_port.py")
