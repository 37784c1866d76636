"""Prometheus 2 (Kim et al., 2024), relative grading: feedback, then `[RESULT] A` or `[RESULT] B`.

Read off prometheus-eval/prometheus-eval @dcfb442 (the `prometheus-eval` library, 0.1.20):
libs/prometheus-eval/prometheus_eval/prompts.py (REL_SYSTEM_PROMPT, RELATIVE_PROMPT_WO_REF; the rubric its
`load_rubric("helpfulness", "relative")` gives, the first line of HELPFULNESS_RUBRIC), judge.py (a system
and a user message), parser.py (`_parse_output_relative`), utils.py (temperature 1.0, top_p 0.9,
max_tokens 1024, repetition_penalty 1.03; no seed). Checkpoints: prometheus-eval/prometheus-7b-v2.0,
prometheus-eval/prometheus-8x7b-v2.0. The library renders with FastChat's "mistral" conversation; gram renders
with the checkpoint's own chat template (its eval/run_evaluate.py does too), folding the system message into
the user's where the template has no system role, as that script does.
"""

from __future__ import annotations

import re

from . import Protocol

SYSTEM = (
    'You are a fair judge assistant assigned to deliver insightful feedback that compares individual '
    'performances, highlighting how each stands relative to others within the same cohort.'
)

RELATIVE_PROMPT_WO_REF = (
    '###Task Description:\n'
    'An instruction (might include an Input inside it), two responses to evaluate (denoted as Response '
    'A and Response B), and an evaluation criteria are given.\n'
    '1. Write a detailed feedback that assess the quality of the two responses strictly based on the '
    'given evaluation criteria, not evaluating in general.\n'
    '2. Make comparisons between Response A, Response B, and the Reference Answer. Instead of '
    'examining Response A and Response B separately, go straight to the point and mention about the '
    'commonalities and differences between them.\n'
    '3. After writing the feedback, indicate the better response, either "A" or "B".\n'
    '4. The output format should look as follows: "Feedback: (write a feedback for criteria) [RESULT] '
    '(Either "A" or "B")"\n'
    '5. Please do not generate any other opening, closing, and explanations.\n'
    '\n'
    '###Instruction:\n'
    '{instruction}\n'
    '\n'
    '###Response A:\n'
    '{response_A}\n'
    '\n'
    '###Response B:\n'
    '{response_B}\n'
    '\n'
    '###Score Rubric:\n'
    '{rubric}\n'
    '\n'
    '###Feedback: '
)

HELPFULNESS = "[Does the model provide relevant and useful responses to the user's needs or questions?]"

# The library's relative verdict: one of its markers, A or B, an optional "]", then only whitespace to the
# end of that line (re.MULTILINE): "[RESULT] A", "[RESULT] Response B", "[Response B]", "Result: b".
VERDICT = re.compile(r"(?:\[RESULT\]|\[RESULT:\s*|\[Response\s+|\[Result\](?:\s+Response)?|\[Result:\s*"
                     r"|(?:^|\n)Result:?\s*)\s*(A|B)(?:\])?(?:\s*$)", re.IGNORECASE | re.MULTILINE)


def parse(text: str) -> str | None:
    """The first verdict the library's pattern finds, upper-cased; None without one."""
    match = VERDICT.search(text)
    return match.group(1).upper() if match else None


PROMETHEUS2 = Protocol(
    name="prometheus2", user=RELATIVE_PROMPT_WO_REF, system=SYSTEM, parse=parse, label_opening=r"\[RESULT\]",
    forced_opening=" [RESULT]", labels=(" A", " B"), temperature=1.0, top_p=0.9, max_new_tokens=1024,
    slots=("instruction", "response_A", "response_B"), extra=(("rubric", HELPFULNESS),),
    source="prometheus-eval/prometheus-eval@dcfb442 libs/prometheus-eval/prometheus_eval/prompts.py, parser.py, utils.py")
