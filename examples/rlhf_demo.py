"""RLHF with a GRAM reward on the CPU: GRPO (TRL) fine-tunes the embedded policy with LoRA for a few steps
on a few prompts; the reward is GRAM's score of each sample against the policy's greedy response of that step.

    python examples/rlhf_demo.py --judge runs/stage2 --steps 8

It prints the mean reward of every step. With PPO-style trainers, call `GramReward.score(prompts,
responses)` for one scalar per response instead (TRL 1.x has no PPOTrainer; OpenRLHF reaches gram through
`gram serve`'s /get_reward endpoint, docs/SERVING.md).
"""

from __future__ import annotations

import argparse
import time

PROMPTS = [
    "Give me one tip for sleeping better.", "How do I boil an egg?", "What is a good name for a grey cat?",
    "Explain what a rainbow is to a child.", "Suggest a healthy breakfast.", "How can I save money on groceries?",
    "What should I pack for a day hike?", "Write a friendly greeting for a new neighbour.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--judge", default="smollm2-135m", help="the reward model (a GRAM checkpoint)")
    parser.add_argument("--policy", default="smollm2-135m", help="the policy to fine-tune")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--output-dir", default="runs/rlhf-demo")
    args = parser.parse_args()

    from datasets import Dataset
    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer

    from gram.model import backbone
    from gram.scoring import load_judge
    from gram.rlhf import GramReward

    policy, tokenizer = backbone.load(args.policy)
    policy.train()
    judge = load_judge(args.judge, max_length=768)
    reward = GramReward(judge, policy=policy, tokenizer=tokenizer, max_new_tokens=48)
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": p}]} for p in PROMPTS])
    config = GRPOConfig(output_dir=args.output_dir, max_steps=args.steps, per_device_train_batch_size=4,
                        num_generations=4, max_completion_length=48, learning_rate=2e-4, logging_steps=1,
                        report_to="none", use_cpu=True, save_strategy="no", seed=0)
    trainer = GRPOTrainer(model=policy, reward_funcs=[reward], args=config, train_dataset=data,
                          processing_class=tokenizer,
                          peft_config=LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"))
    start = time.perf_counter()
    trainer.train()
    rewards = [h["rewards/gram_reward/mean"] for h in trainer.state.log_history if "rewards/gram_reward/mean" in h]
    print(f"\nGRPO + LoRA, {args.steps} steps in {time.perf_counter() - start:.0f} s, judge {args.judge}")
    print("mean reward per step: " + ", ".join(f"{r:+.3f}" for r in rewards))
    half = max(1, len(rewards) // 2)
    print(f"first half {sum(rewards[:half]) / half:+.3f}, second half {sum(rewards[half:]) / max(1, len(rewards) - half):+.3f}")


if __name__ == "__main__":
    main()
