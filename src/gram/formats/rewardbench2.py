"""RewardBench 2 (allenai/reward-bench-2): {"id", "prompt", "chosen": [...], "rejected": [...],
"num_correct", "subset", ...}, one response set per row, the correct responses first. The category is the
subset (Factuality, Precise IF, Math, Safety, Focus, Ties); Ties rows carry ids "ref:N" / "tied:N", which
its scoring pairs up (gram.eval.official.rewardbench2_summary)."""

from ..records import ResponseSet
from .base import Item, register
from .hub import dataset_items


@register("rewardbench2", "sets", "RewardBench 2 rows (json/jsonl/parquet or the hub id)", items=dataset_items)
def rewardbench2(item: Item):
    obj = item.obj()
    chosen, rejected = item.value("chosen", list), item.value("rejected", list)
    fields = [f"chosen[{i}]" for i in range(len(chosen))] + [f"rejected[{i}]" for i in range(len(rejected))]
    responses = [item.text(f, source={f: r}) for f, r in zip(fields, [*chosen, *rejected])]
    num_correct = obj.get("num_correct", len(chosen))
    if not isinstance(num_correct, int) or not 1 <= num_correct <= len(chosen) or not rejected:
        raise item.error("num_correct", f"expected 1..{len(chosen)} correct responses and at least one rejected one")
    return [ResponseSet(item.text("prompt"), responses, best=0 if num_correct == 1 else None, source="rewardbench2",
                        category=item.text("subset"), meta={"id": str(obj.get("id")), "num_correct": num_correct})]
