"""What one client may ask of `gram serve` (bodies, lists, texts, the queue, timeouts): the defaults of its
flags, importable without FastAPI."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Limits:
    max_body_bytes: int = 4 * 1024 * 1024
    max_items: int = 256  # pairs, lists or responses in one request
    max_list: int = 64  # responses in one ranking list
    max_chars: int = 32_000  # characters in one prompt or response
    max_queue_pairs: int = 4096  # pairs waiting for the model before requests get 429
    body_timeout_s: float = 30.0  # for a request body to arrive, else 408
    request_timeout_s: float = 300.0  # from a request's arrival to its answer, else 503 (its pairs leave the queue)
