"""The files of a local model directory: whole enough to load, and what they hold.

`check_files(path)` reads only headers: a half-written config.json, `{}` as a config, an empty, truncated
or header-corrupted safetensors file, a sharded index naming a missing shard, or no tokenizer at all is
one line naming the file and what is wrong, before `from_pretrained` turns it into a 30-line traceback.

`identity(path)` is what a resumed job checks besides the path: each file's size and modification time
and a hash of each safetensors header (the tensors' names, dtypes, shapes and offsets), so new weights
written into the same directory are a different model."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from ..errors import ModelFileError

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
NOT_THE_MODEL = {"train_summary.json", "trainer_state.json", "gram_run.json", "README.md", "loss.png"}
MAX_HEADER_BYTES = 100 * 2**20  # safetensors' own limit


def safetensors_header(path: Path) -> bytes:
    """The JSON header of a safetensors file, checked against the file's size."""
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(f"{path}: empty file (a save that never finished?)")
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelFileError(f"{path}: {size} bytes, too short to be safetensors (truncated)")
        (length,) = struct.unpack("<Q", head)
        if length > min(size - 8, MAX_HEADER_BYTES):
            raise ModelFileError(f"{path}: its header claims {length} bytes but the file has {size}: "
                                "truncated or not a safetensors file")
        raw = f.read(length)
    try:
        header = json.loads(raw)
    except ValueError:
        raise ModelFileError(f"{path}: its header is not JSON: the file is corrupted") from None
    tensors = [t for k, t in header.items() if k != "__metadata__"] if isinstance(header, dict) else None
    ends = [t["data_offsets"][1] for t in tensors or [] if isinstance(t, dict)
            and isinstance(t.get("data_offsets"), list) and len(t["data_offsets"]) == 2]
    if tensors is None or len(ends) != len(tensors):
        raise ModelFileError(f"{path}: its header does not describe tensors: the file is corrupted")
    if ends and 8 + length + max(ends) > size:
        raise ModelFileError(f"{path}: truncated: its tensors end at byte {8 + length + max(ends)}, the file "
                            f"has {size} (a save that never finished, or a full disk?)")
    return raw


def check_config(path: Path) -> None:
    config = path / "config.json"
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError) as err:
        raise ModelFileError(f"{config}: not readable JSON (half written?): {err}") from None
    if not isinstance(data, dict) or not (data.get("model_type") or data.get("architectures")):
        raise ModelFileError(f"{config}: names no model_type or architectures: not a transformers model config")


def check_files(path: str | Path) -> None:
    """One line for the first file of `path` that cannot be loaded (see the module's docstring)."""
    path = Path(path)
    if (path / "config.json").is_file():
        check_config(path)
    for weights in sorted(path.glob("*.safetensors")):
        safetensors_header(weights)
    index = path / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text())["weight_map"].values())
        except (OSError, ValueError, KeyError, AttributeError) as err:
            raise ModelFileError(f"{index}: not a readable shard index: {err}") from None
        if missing := sorted(s for s in shards if not (path / s).is_file()):
            raise ModelFileError(f"{index}: names {', '.join(missing)}, which {path} does not hold")
    if (path / "config.json").is_file() and not any((path / t).is_file() for t in TOKENIZER_FILES):
        raise ModelFileError(f"{path} holds no tokenizer ({', '.join(TOKENIZER_FILES)}): save the base model's "
                            "tokenizer beside the weights (tokenizer.save_pretrained)")


def identity(path: str | Path) -> dict:
    """{file: [size, mtime_ns] (+ the safetensors header's sha256)} for the files a model is loaded from."""
    files = {}
    for f in sorted(Path(path).iterdir()):
        if f.is_file() and f.name not in NOT_THE_MODEL and not f.name.endswith(".lock"):
            stat = f.stat()
            files[f.name] = [stat.st_size, stat.st_mtime_ns]
            if f.suffix == ".safetensors":
                files[f.name].append(hashlib.sha256(safetensors_header(f)).hexdigest()[:16])
    return files
