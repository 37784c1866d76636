"""ShareGPT-style preference data (LLaMA-Factory's `dpo_en_demo.json`):

    {"conversations": [{"from": "human", "value": ...}, ...], "chosen": {"from": "gpt", "value": ...},
     "rejected": {"from": "gpt", "value": ...}}
"""

from ..records import PreferencePair
from .base import Item, messages, register
from .hub import dataset_items

ROLES = {"human": "user", "gpt": "assistant", "system": "system", "user": "user", "assistant": "assistant"}


@register("sharegpt-dpo", "pairs", "ShareGPT-style conversations with chosen/rejected (dpo_en_demo.json)",
          items=dataset_items)
def sharegpt(item: Item):
    conversation = messages(item, item.value("conversations", list), "conversations", ROLES)
    if conversation[-1]["role"] != "user":
        raise item.error("conversations", "the last message must be the user's")
    responses = []
    for key in ("chosen", "rejected"):
        value = item.value(key, (dict, str))
        responses.append(value if isinstance(value, str) else item.text("value", value, f"{key}.value"))
    prompt = conversation[0]["content"] if len(conversation) == 1 else conversation
    return [PreferencePair.from_preference(prompt, *responses, source=item.path.stem, category="",
                                           meta={"index": item.index})]
