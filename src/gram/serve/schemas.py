"""Request and response bodies of `gram serve` (they also make its OpenAPI page)."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from ..errors import InputError
from ..io import check_prompt
from ..scoring.rank import DEFAULT_STRATEGY, STRATEGIES


def unicode_text(value: str) -> str:
    """JSON's `\\ud800` escapes decode to lone surrogates, which are not text: refused (422) here rather
    than failing in the tokenizer."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(f"holds a lone surrogate (U+{ord(value[err.start]):04X} at character {err.start}): "
                         "not valid Unicode text") from None
    return value


Text = Annotated[str, AfterValidator(unicode_text)]


class Message(BaseModel):
    role: Text
    content: Text


def prompt_as_files_have_it(value):
    """One rule for a prompt, here and in `gram score`'s files (gram.io.check_prompt): a string or a
    non-empty list of messages; `[]` was scored here and refused there."""
    try:
        return check_prompt(value, "request", None)
    except InputError as err:
        raise ValueError(err.problem) from None


Prompt = Annotated[Text | list[Message], BeforeValidator(prompt_as_files_have_it)]


class PairIn(BaseModel):
    prompt: Prompt
    response_a: Text
    response_b: Text


class CompareIn(BaseModel):
    pairs: list[PairIn] = Field(description="pairs to judge; both presentation orders are averaged")


class ScoreOut(BaseModel):
    score_a: float
    score_b: float
    p_a_ab: float
    p_a_ba: float | None
    consistent: bool | None
    truncated: bool


class ReasonedScoreOut(ScoreOut):
    """A reasoning judge's row (gram.scoring.reasoning.ReasonedScore): the soft score, and the verdicts it
    wrote."""
    verdict: str
    votes_a: int
    votes_b: int
    no_verdict: int
    think_truncated: int
    rationales: list[list[str]] | None = Field(description="per order, per sample; null with --no-rationales")


class CompareOut(BaseModel):
    # a reasoning judge's rows first: a plain row lacks their fields and is read as ScoreOut
    scores: list[Annotated[ReasonedScoreOut | ScoreOut, Field(union_mode="left_to_right")]]


class ListIn(BaseModel):
    prompt: Prompt
    responses: list[Text]


class RankIn(BaseModel):
    lists: list[ListIn]
    strategy: str = Field(DEFAULT_STRATEGY, description=f"one of {', '.join(STRATEGIES)}")
    budget: int | None = Field(None, ge=1, description="most comparisons per list")


class RankOut(BaseModel):
    ranking: list[int] = Field(description="response indices, best first (the field `gram rank` writes)")
    picked: int = Field(description="index of the best response (as `gram rank`)")
    comparisons: int = Field(description="pairwise judgements spent")
    rounds: int = Field(description="batches of judgements")
    full: bool = Field(description="whether `ranking` orders every response (else: the best, then the rest as given)")
    budget_exhausted: bool
    bt_scores: list[float] | None = Field(description="Bradley-Terry log-strengths (round-robin), as `gram rank`")


class RankResults(BaseModel):
    results: list[RankOut]


class RewardIn(BaseModel):
    prompts: list[Prompt]
    responses: list[Text]
    references: list[Text] | None = Field(None, description="default: the server policy's greedy responses")
    center: bool = True
    mode: Literal["reference", "group"] = Field("reference", description=(
        "reference: each response against its reference; group: each response's centred Bradley-Terry "
        "strength among the responses to the same prompt (n(n-1)/2 comparisons per group of n; no references)"))


class RewardOut(BaseModel):
    rewards: list[float]
    references: list[Text]


class OpenRLHFIn(BaseModel):
    query: list[Text] = Field(description="prompt + response texts, as OpenRLHF sends them")
    prompts: list[Text] | None = Field(None, description="the prompt part of each query (needed to split it)")
    labels: list[Text] | None = Field(None, description="reference responses, when the dataset has them")


class OpenRLHFOut(BaseModel):
    rewards: list[float]
    scores: list[float]
    extra_logs: dict
