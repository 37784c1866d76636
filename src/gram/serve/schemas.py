"""Request and response bodies of `gram serve` (they also make its OpenAPI page)."""

from pydantic import BaseModel, Field

from ..scoring.rank import STRATEGIES


class Message(BaseModel):
    role: str
    content: str


Prompt = str | list[Message]


class PairIn(BaseModel):
    prompt: Prompt
    response_a: str
    response_b: str


class CompareIn(BaseModel):
    pairs: list[PairIn] = Field(description="pairs to judge; both presentation orders are averaged")


class ScoreOut(BaseModel):
    score_a: float
    score_b: float
    p_a_ab: float
    p_a_ba: float | None
    consistent: bool | None
    truncated: bool


class CompareOut(BaseModel):
    scores: list[ScoreOut]


class ListIn(BaseModel):
    prompt: Prompt
    responses: list[str]


class RankIn(BaseModel):
    lists: list[ListIn]
    strategy: str = Field("linear", description=f"one of {', '.join(STRATEGIES)}")
    budget: int | None = Field(None, ge=1, description="most comparisons per list")


class RankOut(BaseModel):
    order: list[int]
    best: int
    comparisons: int
    rounds: int
    full: bool
    budget_exhausted: bool
    scores: list[float] | None


class RankResults(BaseModel):
    results: list[RankOut]


class RewardIn(BaseModel):
    prompts: list[Prompt]
    responses: list[str]
    references: list[str] | None = Field(None, description="default: the server policy's greedy responses")
    center: bool = True


class RewardOut(BaseModel):
    rewards: list[float]
    references: list[str]


class OpenRLHFIn(BaseModel):
    query: list[str] = Field(description="prompt + response texts, as OpenRLHF sends them")
    prompts: list[str] | None = Field(None, description="the prompt part of each query (needed to split it)")
    labels: list[str] | None = Field(None, description="reference responses, when the dataset has them")


class OpenRLHFOut(BaseModel):
    rewards: list[float]
    scores: list[float]
    extra_logs: dict
