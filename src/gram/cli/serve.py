"""`gram serve`: load the judge (and the policy), then run the reward server (gram.serve) under uvicorn."""

from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass

from ..jobs.settings import JudgeSpec
from ..model import backbone
from ..options import group, opt
from ..serve.limits import Limits
from .flags import EngineFlags, ModelOptions, ReasoningOptions, ServeJudgeOptions, add_command

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def redact_query_token(record) -> bool:
    """uvicorn's access log without the value of a `token=` query parameter."""
    record.args = tuple(re.sub(r"token=[^&\s]*", "token=***", a) if isinstance(a, str) else a
                        for a in (record.args or ()))
    return True


@dataclass
class ServeOptions:
    loading: ModelOptions = group(ModelOptions)
    engine: EngineFlags = group(EngineFlags)
    host: str = opt("127.0.0.1", "address to bind (default 127.0.0.1: this machine only)")
    port: int = opt(8000, "TCP port to listen on", at_least=1, at_most=65535)
    token: str | None = opt(None, "bearer token required on every scoring request (or GRAM_SERVE_TOKEN)")
    token_in_url: bool = opt(False, "also accept the token as /get_reward?token=... (OpenRLHF's client cannot "
                                    "send a header; the URL, token and all, may land in the client's logs: "
                                    "docs/SERVING.md)")
    policy: str | None = opt(None, "model whose greedy responses are /reward's default references, written once "
                                   "per new prompt and cached (on a CPU seconds to minutes each: send references "
                                   "to skip it)")
    max_new_tokens: int = opt(256, "most tokens of a policy's reference response (it stops earlier at its end or "
                                   "once it loops)", at_least=1)
    judging: ServeJudgeOptions = group(ServeJudgeOptions)
    reasoning: ReasoningOptions = group(ReasoningOptions)
    max_batch_pairs: int = opt(64, "pairs gathered from concurrent requests per judge call", at_least=1)
    max_wait_ms: float = opt(2.0, "how long a new batch waits for more requests", at_least=0)
    max_body_bytes: int = opt(Limits.max_body_bytes, "bytes per request body, else 413", at_least=1)
    max_items: int = opt(Limits.max_items, "pairs, lists or responses per request", at_least=1)
    max_list: int = opt(Limits.max_list, "responses per ranking list", at_least=1)
    max_chars: int = opt(Limits.max_chars, "characters per prompt or response", at_least=1)
    max_queue_pairs: int = opt(Limits.max_queue_pairs, "pairs waiting for the model before new requests get 429",
                               at_least=1)
    request_timeout: float = opt(Limits.request_timeout_s, "seconds from a request's arrival to its answer before "
                                 "it gets 503 and leaves the queue", above=0)
    body_timeout: float = opt(Limits.body_timeout_s, "seconds a request body may take to arrive before 408", above=0)
    header_timeout: float = opt(10.0, "seconds a connection may take to send a request's headers before it is "
                                      "closed", above=0)
    max_connections: int | None = opt(None, "open connections before new ones get 503 (default: the file-descriptor "
                                            "limit less 64, at most 1024)", at_least=1)
    allowed_host: list[str] | None = opt(None, "a Host header value to accept, repeatable (default on loopback: "
                                               "127.0.0.1, localhost, ::1, against DNS rebinding; on other "
                                               "addresses: any)", repeat=True, metavar="HOST")
    graceful_timeout: float = opt(30.0, "on SIGTERM, seconds in-flight requests may take before the ones still "
                                        "waiting for the model get 503", above=0)
    log_level: str = opt("info", "uvicorn's log level", choices=["critical", "error", "warning", "info", "debug",
                                                               "trace"])


def run(args) -> int:
    """`gram serve`: bind the port, load the judge (and the policy), then run uvicorn."""
    from ..serve.app import create_app
    from ..serve.guard import bounded_protocol, default_max_connections
    from ..serve.process import bound_kernel_cache, listen, serve

    token = args.token or os.environ.get("GRAM_SERVE_TOKEN") or None
    if args.host not in LOOPBACK and token is None:
        print(f"gram serve: warning: listening on {args.host} with no bearer token: anyone who can reach it can "
              "use it (set --token or GRAM_SERVE_TOKEN)", file=sys.stderr)
    sock = listen(args.host, args.port)  # before the minutes of loading: a port in use is said at once
    bound_kernel_cache()
    judge = JudgeSpec.from_args(args).load(asynchronous=True)
    policy = tokenizer = None
    if args.policy:
        policy, tokenizer = backbone.load(args.policy, device=args.device, dtype=args.dtype)
    limits = Limits(max_body_bytes=args.max_body_bytes, max_items=args.max_items, max_list=args.max_list,
                    max_chars=args.max_chars, max_queue_pairs=args.max_queue_pairs,
                    body_timeout_s=args.body_timeout, request_timeout_s=args.request_timeout)
    allowed = args.allowed_host or (LOOPBACK if args.host in LOOPBACK else None)
    app = create_app(judge, token=token, limits=limits, policy=policy, policy_tokenizer=tokenizer,
                     max_batch_pairs=args.max_batch_pairs, max_wait_ms=args.max_wait_ms, model_name=args.model,
                     max_new_tokens=args.max_new_tokens, allowed_hosts=tuple(allowed) if allowed else None,
                     token_in_url=args.token_in_url)
    if args.token_in_url:
        logging.getLogger("uvicorn.access").addFilter(redact_query_token)
    protocol = bounded_protocol(args.max_connections or default_max_connections(), args.header_timeout)
    started = serve(app, sock, protocol, graceful_timeout_s=args.graceful_timeout, log_level=args.log_level)
    return 0 if started else 3


def add_parser(sub) -> None:
    add_command(sub, "serve", ServeOptions, run,
                help="HTTP reward server: /compare, /rank, /reward, /get_reward (OpenRLHF), /health",
                description="`gram serve`: an HTTP reward server (FastAPI + uvicorn) over one judge.")
