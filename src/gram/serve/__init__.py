"""`gram serve`: the HTTP reward server. `app` (the app, its state and limits), `endpoints` (each endpoint
and error handler, authentication, over that state), `batcher` (dynamic batching on one model thread),
`guard` (Host, body and connection bounds), `schemas` (request and response bodies, the OpenAPI page),
`process` (the uvicorn process: the port bound before the model loads, the drain deadline)."""

from ..errors import Overloaded, ShuttingDown
from .app import Limits, create_app
from .batcher import BatchedJudge, Batcher
from .guard import Guard, bounded_protocol

__all__ = ["BatchedJudge", "Batcher", "Guard", "Limits", "Overloaded", "ShuttingDown", "bounded_protocol", "create_app"]
