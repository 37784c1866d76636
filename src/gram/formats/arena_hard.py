"""Arena-Hard-Auto: `question.jsonl` ({uid, category, cluster or subcategory, prompt}) and
`model_answer/<model>.jsonl` ({uid, model, messages: [user, {role: assistant, content: {answer}}]}).
Reading a version directory (e.g. `arena-hard-v0.1`) gives one set per question with every model's answer."""

import json
from pathlib import Path

from ..errors import InputError
from ..records import ResponseSet
from .base import Item, input_files, messages, read_json_file, register


def arena_items(path: Path):
    root = path if path.is_dir() else path.parent.parent
    questions = {}
    qfile = root / "question.jsonl"
    if qfile.is_file():
        for item in read_json_file(qfile):
            if isinstance(item.raw, dict) and "uid" in item.raw:
                questions[item.raw["uid"]] = item.raw
    answers = path if path.is_file() else root / "model_answer"
    if not answers.exists():
        raise InputError(path, None, None, "expected an Arena-Hard version directory holding model_answer/")
    for f in input_files(answers, ("*.jsonl",)):
        for item in read_json_file(f):
            item.context["questions"] = questions
            yield item


@register("arena-hard", "sets", "Arena-Hard-Auto answers (a version directory): n responses per question",
          items=arena_items, group=True)
def arena_hard(item: Item):
    conversation = item.value("messages", list)
    if len(conversation) < 2:
        raise item.error("messages", "expected the question and the answer")
    *history, answer = conversation
    if not isinstance(answer, dict) or answer.get("role") != "assistant":
        raise item.error(f"messages[{len(conversation) - 1}]", "expected the assistant's answer last")
    content = answer.get("content")
    if isinstance(content, dict):
        content = content.get("answer")
    if not isinstance(content, str):
        raise item.error(f"messages[{len(conversation) - 1}].content", "expected a string or {answer: string}")
    # question texts are stored as plain strings in `messages` too; normalise the history
    history = [{"role": m.get("role"), "content": m.get("content") if isinstance(m.get("content"), str)
                else json.dumps(m.get("content"))} if isinstance(m, dict) else m for m in history]
    prompt = messages(item, history, "messages")
    prompt = prompt[0]["content"] if len(prompt) == 1 else prompt
    uid = item.text("uid")
    question = item.context.get("questions", {}).get(uid, {})
    category = question.get("cluster") or question.get("subcategory") or question.get("category") or ""
    return [ResponseSet(prompt, [content], [item.obj().get("model")], source="arena-hard", category=category,
                        meta={"id": uid})]
