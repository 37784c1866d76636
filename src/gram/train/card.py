"""What a finished run leaves for people: the training-loss plot and the model card (README.md)."""

from __future__ import annotations

import json
from pathlib import Path

from ..io import save_figure_atomic, write_text_atomic
from ..model import backbone


def plot_losses(history: list[dict], path: Path, stage: str) -> None:
    points = [(h["step"], h["loss"]) for h in history if "loss" in h]
    if not points:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(*zip(*points), marker="." if len(points) < 50 else None)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.set_title(f"gram {stage}")
    ax.grid(alpha=0.3)
    save_figure_atomic(fig, path)


def lineage(model: str) -> list[str]:
    """The models a run starts from, nearest first, down to the released one: a local gram output names
    its own start in train_summary.json (runs/stage2 <- runs/stage1 <- smollm2-135m)."""
    chain = [model]
    while len(chain) < 16:
        summary_file = Path(chain[-1]) / "train_summary.json"
        try:
            parent = json.loads(summary_file.read_text()).get("base_model")
        except (OSError, ValueError):
            break
        if not parent or parent in chain:
            break
        chain.append(parent)
    return chain


def write_model_card(output_dir: Path, description: str, summary: dict) -> None:
    config = summary["config"]
    chain = lineage(summary["base_model"])
    root = chain[-1]
    base = backbone.EMBEDDED[root][2] if root in backbone.EMBEDDED else root  # the hub id the card's metadata names
    lines = ["---", f"base_model: {base}", "library_name: transformers", "tags: [gram, reward-model]",
             "---", "", f"# {Path(output_dir).name}", "", f"{description}, trained with gram.", "",
             f"- base model: `{summary['base_model']}`" + (f" (from {' <- '.join(f'`{m}`' for m in chain[1:])})"
                                                          if len(chain) > 1 else ""),
             f"- training data: `{summary['train_file']}` "
             f"({summary['pairs']} pairs -> {summary['examples']} examples)",
             f"- steps: {summary['steps']}, training time {summary['train_seconds']} s, mean training loss "
             f"{summary['train_loss']:.4f}", ""]
    if "eval" in summary:
        e = summary["eval"]
        lines += ["## Evaluation", "", f"`{e['eval_file']}`: accuracy {e['accuracy']:.3f} over {e['pairs']} pairs "
                  f"(both orders), position consistency {e['position_consistency']:.3f}", ""]
    lines += ["## Hyperparameters", "", "```yaml"] + [f"{k}: {v}" for k, v in config.items()] + ["```", "",
              "Score pairs with `gram score --model THIS_DIR --input pairs.jsonl --output scores.jsonl`.", ""]
    write_text_atomic(Path(output_dir) / "README.md", "\n".join(lines))
