"""`gram serve`: load the judge (and the policy), then run the reward server (gram.serve) under uvicorn."""

from __future__ import annotations

import os
import sys

from .. import backbone
from ..scoring import load_judge
from ..serve.app import Limits, create_app
from ..serve.app import __doc__ as app_doc
from ..serve.guard import bounded_protocol, default_max_connections
from .flags import add_judge_args, add_model_args, judge_options

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="HTTP reward server: /compare, /rank, /reward, /get_reward (OpenRLHF), /health",
                       description=app_doc.split("\n\n")[0])
    add_model_args(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token", default=None, help="bearer token required on every scoring request (or GRAM_SERVE_TOKEN)")
    p.add_argument("--policy", default=None, help="model whose greedy responses are /reward's default references")
    p.add_argument("--max-new-tokens", type=int, default=256, help="length of the policy's reference responses")
    add_judge_args(p)
    p.add_argument("--max-batch-pairs", type=int, default=64, help="pairs gathered from concurrent requests per judge call")
    p.add_argument("--max-wait-ms", type=float, default=2.0, help="how long a new batch waits for more requests")
    p.add_argument("--max-body-bytes", type=int, default=Limits.max_body_bytes)
    p.add_argument("--max-items", type=int, default=Limits.max_items, help="pairs, lists or responses per request")
    p.add_argument("--max-list", type=int, default=Limits.max_list, help="responses per ranking list")
    p.add_argument("--max-chars", type=int, default=Limits.max_chars, help="characters per prompt or response")
    p.add_argument("--max-queue-pairs", type=int, default=Limits.max_queue_pairs,
                   help="pairs waiting for the model before new requests get 429")
    p.add_argument("--request-timeout", type=float, default=Limits.request_timeout_s,
                   help="seconds from a request's arrival to its answer before it gets 503 and leaves the queue")
    p.add_argument("--body-timeout", type=float, default=Limits.body_timeout_s,
                   help="seconds a request body may take to arrive before 408")
    p.add_argument("--header-timeout", type=float, default=10.0,
                   help="seconds a connection may take to send a request's headers before it is closed")
    p.add_argument("--max-connections", type=int, default=None,
                   help="open connections before new ones get 503 (default: the file-descriptor limit less 64, "
                        "at most 1024)")
    p.add_argument("--allowed-host", action="append", default=None, metavar="HOST",
                   help="a Host header value to accept, repeatable (default on loopback: 127.0.0.1, localhost, "
                        "::1, against DNS rebinding; on other addresses: any)")
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=run)


def run(args) -> int:
    """`gram serve`: load the judge (and the policy), then run uvicorn."""
    import uvicorn

    token = args.token or os.environ.get("GRAM_SERVE_TOKEN") or None
    if args.host not in LOOPBACK and token is None:
        print(f"gram serve: warning: listening on {args.host} with no bearer token: anyone who can reach it can "
              "use it (set --token or GRAM_SERVE_TOKEN)", file=sys.stderr)
    judge = load_judge(args.model, device=args.device, dtype=args.dtype, **judge_options(args))
    policy = tokenizer = None
    if args.policy:
        policy, tokenizer = backbone.load(args.policy, device=args.device, dtype=args.dtype)
    limits = Limits(max_body_bytes=args.max_body_bytes, max_items=args.max_items, max_list=args.max_list,
                    max_chars=args.max_chars, max_queue_pairs=args.max_queue_pairs,
                    body_timeout_s=args.body_timeout, request_timeout_s=args.request_timeout)
    allowed = args.allowed_host or (LOOPBACK if args.host in LOOPBACK else None)
    app = create_app(judge, token=token, limits=limits, policy=policy, policy_tokenizer=tokenizer,
                     max_batch_pairs=args.max_batch_pairs, max_wait_ms=args.max_wait_ms, model_name=args.model,
                     max_new_tokens=args.max_new_tokens, allowed_hosts=tuple(allowed) if allowed else None)
    protocol = bounded_protocol(args.max_connections or default_max_connections(), args.header_timeout)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, http=protocol)
    return 0
