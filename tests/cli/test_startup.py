"""Start-up: `gram --help`, `gram data ...` and `import gram` load neither torch, transformers, FastAPI nor
`datasets` (seconds to import); each command imports what it needs when it runs."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "fastapi", "uvicorn", "datasets", "pandas", "peft", "trl", "matplotlib")


def heavy_modules_after(code: str, cwd) -> list[str]:
    probe = (f"import sys\n{code}\n"
             f"print('MODULES', __import__('json').dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, timeout=120)
    line = next(x for x in out.stdout.splitlines() if x.startswith("MODULES"))
    return json.loads(line.removeprefix("MODULES "))


def test_help_and_import_gram_load_no_heavy_library(tmp_path):
    run_help = ("from gram.cli import main\n"
                "for argv in (['--help'], ['score', '--help'], ['serve', '--help'], ['data', 'pairs', '--help']):\n"
                "    try:\n        main(argv)\n    except SystemExit:\n        pass")
    assert heavy_modules_after(run_help, tmp_path) == []
    assert heavy_modules_after("import gram, gram.scoring, gram.serve; dir(gram)", tmp_path) == []


def test_data_commands_load_no_heavy_library(tmp_path, tiny_model_dir):
    src = tmp_path / "pairs.jsonl"
    src.write_text("".join(json.dumps({"prompt": f"q{i}", "response_a": "yes " * i, "response_b": "no",
                                       "label": "a"}) + "\n" for i in range(20)))
    run = (f"from gram.cli import main\n"
           f"assert main(['data', 'stats', '--input', {str(src)!r}, '--model', {str(tiny_model_dir)!r}, '--quiet']) == 0\n"
           f"assert main(['data', 'validate', '--input', {str(src)!r}]) == 0\n"
           f"assert main(['data', 'pairs', '--input', {str(src)!r}, '--output', 'out.jsonl', '--both-orders']) == 0")
    assert heavy_modules_after(run, tmp_path) == []


def test_token_counts_equal_the_transformers_tokenizers(tiny_model_dir):
    from transformers import AutoTokenizer

    from gram.model.backbone import token_counter

    texts = ["What is the capital of France?", "  spaces\tand\nnewlines ", "émoji 🙂 and 42", ""]
    want = [len(ids) for ids in AutoTokenizer.from_pretrained(tiny_model_dir)(texts, add_special_tokens=False)["input_ids"]]
    assert token_counter(str(tiny_model_dir))(texts) == want
