"""gram.model.generation: greedy by default and seeded when sampling, the model's mode restored, and a
looping reference stopped early with its greedy start kept."""

from __future__ import annotations

from gram.model.generation import generate


def test_generate_is_greedy_by_default_and_restores_the_mode(tiny_model, tiny_tokenizer):
    tiny_model.train()
    try:
        one = generate(tiny_model, tiny_tokenizer, "What is 2+2?", max_new_tokens=5)
        two = generate(tiny_model, tiny_tokenizer, [{"role": "user", "content": "What is 2+2?"}], max_new_tokens=5)
        assert tiny_model.training
    finally:
        tiny_model.eval()
    assert one == two and len(one) == 1
    sampled = generate(tiny_model, tiny_tokenizer, "Hi", n=3, do_sample=True, seed=0, max_new_tokens=5)
    assert len(sampled) == 3
    assert sampled == generate(tiny_model, tiny_tokenizer, "Hi", n=3, do_sample=True, seed=0, max_new_tokens=5)


def test_a_looping_reference_stops_early_and_keeps_its_greedy_start(tiny_model, tiny_tokenizer):
    import torch

    from gram.model.generation import StopWhenLooping, generate

    stop = StopWhenLooping()
    looping = torch.tensor([[5, 6, 7] + [1, 2] * 30, list(range(63))])
    assert stop(looping).tolist() == [True, False]
    assert not stop(torch.tensor([[3] * 40])).item()  # under 48 tokens: not yet
    full = generate(tiny_model, tiny_tokenizer, "Say something", max_new_tokens=300)[0]
    short = generate(tiny_model, tiny_tokenizer, "Say something", max_new_tokens=300, stop_loops=True)[0]
    assert full.startswith(short)
    assert len(tiny_tokenizer(short).input_ids) < len(tiny_tokenizer(full).input_ids) // 2, (short, full)
