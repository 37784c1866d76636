"""A policy writing a reference (/reward or /get_reward without one) holds the model: /health says so while
it runs, and the generation stops at its request's deadline (it held the model 6m51s under load, and the
requests beside it got 503)."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from gram.scoring import Judge
from gram.serve import Limits, create_app


def slow(model, seconds_per_token: float):
    """The model, each forward pass (one generated token) taking `seconds_per_token` longer."""
    model.register_forward_hook(lambda *args: time.sleep(seconds_per_token))
    return model


def test_a_reference_is_shown_in_health_and_stops_at_the_deadline(tiny_model_dir):
    from gram.model import backbone

    judge_model, tokenizer = backbone.load(str(tiny_model_dir), device="cpu")
    policy, _ = backbone.load(str(tiny_model_dir), device="cpu")
    app = create_app(Judge(judge_model, tokenizer), policy=slow(policy, 0.05), policy_tokenizer=tokenizer,
                     max_new_tokens=2000, limits=Limits(request_timeout_s=1.5))
    seen, answers = [], {}
    with TestClient(app) as client:
        def reward():
            answers["reward"] = client.post("/reward", json={"prompts": ["Write a long story."], "responses": ["x"]})

        worker = threading.Thread(target=reward)
        start = time.monotonic()
        worker.start()
        time.sleep(0.6)
        seen.append(client.get("/health").json()["model_busy_with"])
        worker.join(30)
        took = time.monotonic() - start
        time.sleep(0.3)  # the generation notices its request left at its next token
        after = client.get("/health").json()["model_busy_with"]
        quick = client.post("/compare", json={"pairs": [{"prompt": "q", "response_a": "1", "response_b": "2"}]})
    assert seen[0]["work"] == "a policy reference" and seen[0]["seconds"] > 0
    assert answers["reward"].status_code == 503 and took < 10  # 2000 tokens at 0.05 s would take 100 s
    assert after is None and quick.status_code == 200


def test_one_deadline_for_a_request_that_needs_several_references(tiny_model_dir):
    """Each reference took its own --request-timeout: 100 of them could run 100 times as long."""
    from gram.model import backbone

    judge_model, tokenizer = backbone.load(str(tiny_model_dir), device="cpu")
    policy, _ = backbone.load(str(tiny_model_dir), device="cpu")
    app = create_app(Judge(judge_model, tokenizer), policy=slow(policy, 0.05), policy_tokenizer=tokenizer,
                     max_new_tokens=16, limits=Limits(request_timeout_s=1.5))  # ~0.8 s a reference
    with TestClient(app) as client:
        start = time.monotonic()
        r = client.post("/reward", json={"prompts": [f"Question {i}?" for i in range(4)], "responses": ["x"] * 4})
        took = time.monotonic() - start
    assert r.status_code == 503 and took < 2.5, (r.status_code, took)
