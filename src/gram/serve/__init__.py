"""`gram serve`: the HTTP reward server. `app` (endpoints, limits, authentication), `batcher` (dynamic
batching on one model thread), `schemas` (request and response bodies, the OpenAPI page)."""

from .app import BodyLimit, Limits, create_app
from .batcher import BatchedJudge, Batcher, Overloaded

__all__ = ["BatchedJudge", "Batcher", "BodyLimit", "Limits", "Overloaded", "create_app"]
