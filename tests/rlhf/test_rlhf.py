"""The RLHF reward: scores against a reference, greedy references cached, TRL's reward-function call."""

import pytest

from gram.records import prompt_key
from gram.rlhf import GramReward
from gram.scoring import Judge


@pytest.fixture()
def judge(tiny_model, tiny_tokenizer):
    return Judge(tiny_model, tiny_tokenizer, max_length=1024)


def test_reward_against_reference(judge):
    reward = GramReward(judge, references={"What is 2+2?": "4"})
    same, other = reward(["What is 2+2?", "What is 2+2?"], ["4", "five, I think"])
    assert same == pytest.approx(0.0, abs=1e-6)  # as good as the reference: centred to 0
    direct = judge.compare("What is 2+2?", "five, I think", "4").score_a - 0.5
    assert other == pytest.approx(direct, abs=1e-6) and -0.5 <= other <= 0.5
    uncentred = GramReward(judge, references={"What is 2+2?": "4"}, center=False)
    assert uncentred(["What is 2+2?"], ["4"])[0] == pytest.approx(0.5, abs=1e-6)


def test_greedy_reference_is_generated_once_per_prompt(judge, tiny_model, tiny_tokenizer):
    calls = []
    original = tiny_model.generate

    def counting_generate(*args, **kwargs):
        calls.append(kwargs.get("do_sample"))
        return original(*args, **kwargs)

    tiny_model.generate = counting_generate
    try:
        reward = GramReward(judge, policy=tiny_model, tokenizer=tiny_tokenizer, max_new_tokens=5)
        first = reward(["Say hi", "Say hi", "Name a colour"], ["hi", "hello", "blue"])
        again = reward(["Say hi"], ["hi"])
    finally:
        del tiny_model.generate
    assert calls == [False, False]  # greedy, once for each of the two prompts
    assert again[0] == pytest.approx(first[0], abs=1e-6) and len(first) == 3


def test_generated_references_are_bounded_least_recently_used_first(judge, tiny_model, tiny_tokenizer):
    reward = GramReward(judge, policy=tiny_model, tokenizer=tiny_tokenizer, max_new_tokens=2, max_cached=2,
                        references={"Pinned": "given"})
    for prompt in ["one", "two", "one", "three"]:  # "two" is the least recently used when "three" arrives
        reward.reference(prompt)
    assert list(reward.cache) == [prompt_key("one"), prompt_key("three")]
    assert reward.reference("Pinned") == "given" and len(reward.cache) == 2  # given ones are never evicted


def test_trl_calls_it_like_a_reward_function(judge):
    from trl.trainer.grpo_trainer import get_callable_name

    reward = GramReward(judge, references={"Hi": "Hello!"})
    assert get_callable_name(reward) == "gram_reward"
    # GRPOTrainer passes conversational prompts / completions as messages, plus extra keyword arguments
    prompts = [[{"role": "user", "content": "Hi"}]] * 2
    completions = [[{"role": "assistant", "content": "Hello!"}], [{"role": "assistant", "content": "Go away"}]]
    out = reward(prompts=prompts, completions=completions, completion_ids=[[1], [2]], trainer_state=None,
                 log_extra=lambda *a, **k: None, log_metric=lambda *a, **k: None)
    assert len(out) == 2 and all(isinstance(x, float) for x in out) and out[0] == pytest.approx(0.0, abs=1e-6)
    # a `reference` dataset column takes precedence over the cache
    col = reward(prompts=["Hi"], completions=["Yo"], reference=["Yo"])
    assert col[0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("refresh", ["step", "never"])
def test_grpo_trainer_runs_with_it(tmp_path, tiny_tokenizer, monkeypatch, refresh):
    """GRPOTrainer passes its state to the reward: by default each step's references are the current
    policy's greedy responses (written anew per step, once per prompt); refresh="never" writes each once."""
    import gram.rlhf as rlhf
    from conftest import make_model
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    policy = make_model(len(tiny_tokenizer), seed=1)
    reward = GramReward(Judge(make_model(len(tiny_tokenizer), seed=0), tiny_tokenizer, max_length=1024),
                        policy=policy, tokenizer=tiny_tokenizer, max_new_tokens=4, refresh=refresh)
    prompts = Dataset.from_list([{"prompt": [{"role": "user", "content": "Say hi"}]},
                                 {"prompt": [{"role": "user", "content": "Name a colour"}]}])
    args = GRPOConfig(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=4, logging_steps=1, report_to="none", use_cpu=True, save_strategy="no")
    trainer = GRPOTrainer(model=policy, reward_funcs=[reward], args=args, train_dataset=prompts,
                          processing_class=tiny_tokenizer)
    written = []  # (training step, policy used) of every reference generation
    real = rlhf.generate
    monkeypatch.setattr(rlhf, "generate", lambda model, *a, **k: written.append((trainer.state.global_step, model))
                        or real(model, *a, **k))
    trainer.train()
    logged = [h["rewards/gram_reward/mean"] for h in trainer.state.log_history if "rewards/gram_reward/mean" in h]
    assert len(logged) == 3 and all(-0.5 <= x <= 0.5 for x in logged)
    assert all(model is trainer.model for _, model in written)  # the policy being trained, as it is then
    steps = [step for step, _ in written]
    if refresh == "step":  # both prompts each step, written once within it
        assert steps == [0, 0, 1, 1, 2, 2]
    else:
        assert steps == [0, 0]


def test_group_mode_in_grpo_gives_each_completion_its_centred_bradley_terry_strength(tmp_path, tiny_tokenizer):
    """Issue 31: mode="group" under GRPOTrainer for 3 steps. With 2 completions per prompt the reward has
    a closed form from the one judgement P = P(first beats second): +-log((P + 0.1) / (1.1 - P)) / 2 (the
    Bradley-Terry fit with its 0.1 prior); no reference is generated."""
    import math

    from conftest import make_model
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    policy = make_model(len(tiny_tokenizer), seed=1)
    judge = Judge(make_model(len(tiny_tokenizer), seed=0), tiny_tokenizer, max_length=1024)
    reward = GramReward(judge, mode="group")
    seen = []  # (prompts, completions, rewards) of every call

    def recorded(prompts, completions, **kwargs):
        rewards = reward(prompts, completions, **kwargs)
        seen.append((list(prompts), list(completions), rewards))
        return rewards
    recorded.__name__ = "gram_group"
    prompts = Dataset.from_list([{"prompt": "Say hi"}, {"prompt": "Name a colour"}])
    args = GRPOConfig(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=6, logging_steps=1, report_to="none", use_cpu=True, save_strategy="no")
    GRPOTrainer(model=policy, reward_funcs=[recorded], args=args, train_dataset=prompts,
                processing_class=tiny_tokenizer).train()
    assert len(seen) == 3
    for prompts_, completions, rewards in seen:
        by_prompt = {}
        for p, c, r in zip(prompts_, completions, rewards):
            by_prompt.setdefault(p, []).append((c, r))
        assert all(len(group) == 2 for group in by_prompt.values())
        for p, ((first, r1), (second, r2)) in by_prompt.items():
            won = judge.compare(p, first, second).score_a
            expected = math.log((won + 0.1) / (1.1 - won)) / 2
            assert r1 == pytest.approx(expected, abs=1e-4) and r2 == pytest.approx(-expected, abs=1e-4)


def test_group_mode_costs_n_choose_2_comparisons(judge):
    calls = []
    real = judge.compare_many
    judge.compare_many = lambda pairs, **kw: calls.append(len(pairs)) or real(pairs, **kw)
    rewards = GramReward(judge, mode="group").score(["q"] * 4 + ["r"], ["a", "bb", "ccc", "dddd", "alone"])
    assert calls == [6]  # 4 responses: 6 pairs; the lone response is not judged and gets 0
    assert rewards[4] == 0.0 and abs(sum(rewards[:4])) < 1e-9
    with pytest.raises(ValueError, match="mode"):
        GramReward(judge, mode="pairs")


def test_the_async_reward_is_awaited_by_grpo_and_gives_the_sync_rewards(tmp_path, tiny_tokenizer):
    """Issue 31: AsyncGramReward is an async callable to TRL (run on its event loop beside other async
    rewards) and its rewards are GramReward's for the same completions."""
    from conftest import make_model
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    from trl.trainer.utils import is_async_callable

    from gram.rlhf import AsyncGramReward

    judge = Judge(make_model(len(tiny_tokenizer), seed=0), tiny_tokenizer, max_length=1024)
    refs = {"Say hi": "Hello there.", "Name a colour": "Blue."}
    reward = AsyncGramReward(judge, references=refs)
    assert is_async_callable(reward)
    seen = []

    async def recorded(prompts, completions, **kwargs):
        rewards = await reward(prompts, completions, **kwargs)
        seen.append((list(prompts), list(completions), rewards))
        return rewards
    prompts = Dataset.from_list([{"prompt": p} for p in refs])
    args = GRPOConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=4, logging_steps=1, report_to="none", use_cpu=True, save_strategy="no")
    GRPOTrainer(model=make_model(len(tiny_tokenizer), seed=1), reward_funcs=[recorded], args=args,
                train_dataset=prompts, processing_class=tiny_tokenizer).train()
    assert len(seen) == 2
    sync = GramReward(judge, references=refs)
    for prompts_, completions, rewards in seen:
        assert rewards == pytest.approx(sync(prompts_, completions), abs=1e-6)


def test_unequal_lengths_and_empty_references_are_refused():
    """A zip would score a truncated list: `GramReward(judge)(["p1", "p2"], ["a", "b"], reference=["x"])` gave
    one reward for two completions."""
    from helpers import NumberJudge

    from gram.rlhf import GramReward

    reward = GramReward(NumberJudge())
    with pytest.raises(ValueError, match="2 prompts, 2 responses, 1 references"):
        reward(["p1", "p2"], ["1", "2"], reference=["3"])
    with pytest.raises(ValueError, match="1 prompts, 2 responses"):
        reward.score(["p1"], ["1", "2"], references=["3", "3"])
    with pytest.raises(ValueError, match="empty or non-string reference"):
        reward(["p1"], ["1"], reference=[""])
    with pytest.raises(ValueError, match="2 prompts, 1 responses"):
        GramReward(NumberJudge(), mode="group")(["p", "p"], ["1"])
    assert reward(["p1", "p2"], ["9", "1"], reference=["5", "5"])[0] > 0
