"""What a finished run leaves for people: the training-loss plot and the model card (README.md)."""

from __future__ import annotations

from pathlib import Path

from .. import backbone
from ..io import save_figure_atomic, write_text_atomic


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


def write_model_card(output_dir: Path, description: str, summary: dict) -> None:
    config = summary["config"]
    base = backbone.EMBEDDED[summary["base_model"]][2] if summary["base_model"] in backbone.EMBEDDED else summary["base_model"]
    lines = ["---", f"base_model: {base}", "library_name: transformers", "tags: [gram, reward-model]",
             "---", "", f"# {Path(output_dir).name}", "", f"{description}, trained with gram.", "",
             f"- base model: `{summary['base_model']}`", f"- training data: `{summary['train_file']}` "
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
