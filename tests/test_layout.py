"""The package's rooms and the imports between them, read from the source (every import, function-level
ones included): no import loop, and each room imports only from the rooms before it in the data flow."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "gram"

# The modules at the top of the package, each its own room, and what each may import.
BASE = {"errors": set(), "lazy": set(), "io": {"errors"}, "templates": {"errors"}, "records": {"io", "templates", "errors"},
        "options": {"errors"}, "http": set()}  # http: one HTTP client per event loop, for calls to model servers
# The folders, each one stage of the data flow, and the rooms each may import besides the base ones.
ROOMS = {
    "model": set(),  # running a causal LM: loading, batching, prefix caches, generation
    "formats": {"model"},  # hub downloads ask the model room whether the hub is reachable
    "data": {"formats"},
    "scoring": {"model"},
    "jobs": {"model", "scoring"},  # resumable, sharded file jobs: the scoring and ranking loops, partial outputs
    "train": {"model", "formats", "jobs"},  # never scoring, eval or serve: a finished run is scored through a hook
    "eval": {"model", "formats", "scoring", "jobs"},
    "rlhf": {"model", "scoring"},
    "integrations": {"model", "scoring", "rlhf"},  # other frameworks' hooks: over HTTP to `gram serve` or a vLLM server
    "serve": {"model", "scoring", "jobs", "rlhf"},
    "cli": {"model", "formats", "data", "scoring", "jobs", "train", "eval", "rlhf", "serve"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Absolute names of the gram modules `path` imports, anywhere in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "gram"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "gram":
                continue
            for alias in node.names:  # `from . import x` imports the module x
                sub = f"{target}.{alias.name}"
                found.add(sub if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists()
                          or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else target)
    return found


def graph() -> dict[str, set[str]]:
    """module -> modules it makes Python load (a package's __init__ too, unless it is one of its own)."""
    edges = {}
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        loads = set()
        for target in imports(path):
            parts = target.split(".")
            loads |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)} - own
        edges[name] = loads - {name, "gram"}
    return edges


def room(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_no_import_loop():
    edges = graph()
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            assert state.get(nxt) != 1, "import loop: " + " -> ".join(stack[stack.index(nxt):] + [nxt]) \
                if nxt in stack else f"import loop through {nxt}"
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def test_each_room_imports_only_from_rooms_before_it():
    wrong = []
    for module, targets in sorted(graph().items()):
        here = room(module)
        if not here:  # gram/__init__: names imported lazily, on first use
            continue
        allowed = BASE[here] if here in BASE else set(BASE) | ROOMS[here]
        for target in sorted(targets):
            there = room(target)
            if there != here and there not in allowed:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_training_imports_nothing_from_scoring_eval_or_serving():
    for module, targets in graph().items():
        if room(module) == "train":
            assert not {room(t) for t in targets} & {"scoring", "eval", "serve", "rlhf", "cli"}, module


def test_every_module_is_in_a_known_room():
    assert {room(m) for m in graph()} - set(BASE) - set(ROOMS) <= {""}
