"""`gram serve`: the HTTP reward server. `app` (the app, its state and limits), `endpoints` (each endpoint
and error handler, authentication, over that state), `batcher` (dynamic batching on one model thread),
`guard` (Host, body and connection bounds), `schemas` (request and response bodies, the OpenAPI page),
`process` (the uvicorn process: the port bound before the model loads, the drain deadline)."""

from ..lazy import lazy_exports

_EXPORTS = {"Overloaded": "..errors", "ShuttingDown": "..errors", "Limits": ".limits", "create_app": ".app",
            "BatchedJudge": ".batcher", "Batcher": ".batcher", "Guard": ".guard", "bounded_protocol": ".guard"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
