"""`/get_reward` as OpenRLHF calls it (its remote reward client: a JSON POST to the URL as given, no
headers of its own): an empty label is no reference, a prompt cut from the left still splits its query,
and a token can ride in the URL where the server allows it."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from helpers import NumberJudge

from gram.scoring import Judge
from gram.serve import create_app
from gram.serve.endpoints import tail_overlap

LONG_PROMPT = "<|im_start|>user\n" + "Please think about this long question carefully. " * 8 + "Q: "


def openrlhf_post(client, url, query, prompts, labels):
    """OpenRLHF's request: `query` (prompt + response), `prompts`, `labels` ([""] without --label_key)."""
    return client.post(url, json={"query": query, "prompts": prompts, "labels": labels},
                       headers={"Content-Type": "application/json"})


def test_an_empty_label_is_no_reference(tiny_model, tiny_tokenizer):
    judge = Judge(tiny_model, tiny_tokenizer, batch_size=4)
    with TestClient(create_app(NumberJudge())) as client:  # no policy: 422, not a reward against ""
        r = openrlhf_post(client, "/get_reward", ["Q: 9"], ["Q: "], [""])
        assert r.status_code == 422 and "--policy" in r.json()["detail"]
    app = create_app(judge, policy=tiny_model, policy_tokenizer=tiny_tokenizer, max_new_tokens=4)
    with TestClient(app) as client:
        got = openrlhf_post(client, "/get_reward", ["What is 2+2? 4", "What is 2+2? 5"], ["What is 2+2? "] * 2,
                            ["", "five"]).json()["rewards"]
        want = client.post("/reward", json={"prompts": ["What is 2+2? "], "responses": ["4"]}).json()
        assert got[0] == pytest.approx(want["rewards"][0], abs=1e-6)  # against the policy's greedy response
        against = client.post("/reward", json={"prompts": ["What is 2+2? "], "responses": ["5"],
                                                "references": ["five"]}).json()["rewards"][0]
        assert got[1] == pytest.approx(against, abs=1e-6)  # a label given is used as it is


def test_a_prompt_cut_from_the_left_still_splits_its_query():
    with TestClient(create_app(NumberJudge())) as client:
        whole = openrlhf_post(client, "/get_reward", [LONG_PROMPT + "9"], [LONG_PROMPT], ["5"]).json()["rewards"]
        cut = openrlhf_post(client, "/get_reward", [LONG_PROMPT[150:] + "9"], [LONG_PROMPT], ["5"])
        assert cut.status_code == 200 and cut.json()["rewards"] == pytest.approx(whole)
        chance = openrlhf_post(client, "/get_reward", ["Q: 9"], [LONG_PROMPT], ["5"])  # 3 characters in common
        assert chance.status_code == 422 and "--prompt_max_len" in chance.json()["detail"]


def test_a_cut_prompt_is_aligned_off_the_event_loop(monkeypatch):
    """Aligning a cut prompt is linear Python (about 0.6 s for a 4 MiB body): it runs in a worker thread,
    so the server's other requests are not held meanwhile."""
    import threading

    from gram.serve import endpoints

    threads = []

    def recording(prompt, query):
        threads.append(threading.current_thread())
        return tail_overlap(prompt, query)

    monkeypatch.setattr(endpoints, "tail_overlap", recording)
    with TestClient(create_app(NumberJudge())) as client:
        loop_thread = client.portal.call(lambda: threading.current_thread())
        r = openrlhf_post(client, "/get_reward", [LONG_PROMPT[150:] + "9"], [LONG_PROMPT], ["5"])
    assert r.status_code == 200 and threads and threads[0] is not loop_thread


def test_tail_overlap_is_the_longest_end_of_the_prompt_that_starts_the_query():
    assert tail_overlap("abcabc", "abcX") == 3 and tail_overlap("abc", "xyz") == 0
    assert tail_overlap("aaaa", "aaab") == 3 and tail_overlap("ab", "ab") == 2
    assert tail_overlap("x" * 40000, "x" * 30000 + "y") == 30000  # linear time on long texts


def test_a_token_in_the_url_only_where_the_server_allows_it():
    body = {"query": ["Q: 9"], "prompts": ["Q: "], "labels": ["5"]}
    with TestClient(create_app(NumberJudge(), token="s3cret")) as client:
        assert client.post("/get_reward?token=s3cret", json=body).status_code == 401  # not allowed: header only
    with TestClient(create_app(NumberJudge(), token="s3cret", token_in_url=True)) as client:
        assert client.post("/get_reward?token=s3cret", json=body).status_code == 200
        assert client.post("/get_reward?token=wrong", json=body).status_code == 401
        assert client.post("/get_reward", json=body, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        reward = {"prompts": ["q"], "responses": ["9"], "references": ["5"]}
        assert client.post("/reward?token=s3cret", json=reward).status_code == 401  # /get_reward only


def test_the_access_log_does_not_show_a_url_token():
    from gram.cli.serve import redact_query_token

    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "POST", "/get_reward?token=s3cret&x=1", "1.1", 200), None)
    assert redact_query_token(record) and "s3cret" not in record.getMessage()
    assert "/get_reward?token=***&x=1" in record.getMessage()
