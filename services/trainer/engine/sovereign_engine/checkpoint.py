"""Hugging Face checkpoints for Qwen3: config.json plus safetensors, single or sharded, read and written by hand.

Safetensors layout: an 8-byte little-endian header length n, n bytes of JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the tensors' raw
little-endian bytes, offsets counted from the end of the header. Files are memory-mapped when read, so loading
copies each tensor once, straight into the model's parameters.
"""

import dataclasses
import hashlib
import json
import math
import mmap
import os
import struct
import sys
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import torch

from .model import DTYPES, Qwen3Config, Qwen3ForCausalLM, dtype_name

SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}
_SAFETENSORS_NAMES = {dtype: name for name, dtype in SAFETENSORS_DTYPES.items()}

WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
CONFIG_NAME = "config.json"

if sys.byteorder != "little":
    raise ImportError("safetensors stores little-endian bytes; this reader assumes a little-endian machine")


class CheckpointError(ValueError):
    pass


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def _atomic_write(path: str, chunks) -> str:
    """Writes the byte chunks to path via a temporary file; returns their sha256."""
    sha = hashlib.sha256()
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        for chunk in chunks:
            f.write(chunk)
            sha.update(chunk)
    os.replace(tmp, path)
    return sha.hexdigest()


def _tensor_bytes(t: torch.Tensor) -> bytearray:
    t = t.detach().to("cpu").contiguous().reshape(-1)
    if t.numel() == 0:
        return bytearray()
    buf = bytearray(t.numel() * t.element_size())
    torch.frombuffer(buf, dtype=torch.uint8).copy_(t.view(torch.uint8))
    return buf


def save_safetensors(
    path: str,
    tensors: Mapping[str, torch.Tensor],
    metadata: Optional[Dict[str, str]] = None,
    *,
    dtype: Optional[torch.dtype] = None,
) -> str:
    """Writes tensors as one safetensors file, floating-point ones cast to dtype if given; returns its sha256."""

    def stored(t: torch.Tensor) -> torch.dtype:
        return dtype if dtype is not None and t.is_floating_point() else t.dtype

    # Widest dtypes first, then by name, as the reference writer does: every tensor stays aligned to its item size.
    items = sorted(tensors.items(), key=lambda kv: (-_itemsize(stored(kv[1])), kv[0]))
    header: Dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    for name, t in items:
        if stored(t) not in _SAFETENSORS_NAMES:
            raise CheckpointError(f"{name}: dtype {stored(t)} cannot be stored in safetensors")
        nbytes = t.numel() * _itemsize(stored(t))
        header[name] = {
            "dtype": _SAFETENSORS_NAMES[stored(t)], "shape": list(t.shape), "data_offsets": [offset, offset + nbytes]
        }
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # tensor data starts 8-byte aligned

    def chunks():  # one tensor's bytes in memory at a time
        yield struct.pack("<Q", len(blob)) + blob
        for _, t in items:
            yield _tensor_bytes(t.to(stored(t)))

    return _atomic_write(path, chunks())


def read_safetensors_header(path: str) -> Tuple[Dict[str, Any], int]:
    """The parsed JSON header (`__metadata__` left in), checked against the file's size, and where the data starts."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: too short to be a safetensors file")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            raise CheckpointError(f"{path}: header length {n} exceeds the file size {size}")
        try:
            header = json.loads(f.read(n))
        except ValueError as e:
            raise CheckpointError(f"{path}: header is not valid JSON ({e})") from None
    data_size = size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = SAFETENSORS_DTYPES[info["dtype"]], info["shape"], info["data_offsets"]
            nbytes = _itemsize(dtype) * math.prod(shape)
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: tensor {name!r} has a malformed header entry {info!r}") from None
        if end - begin != nbytes or not 0 <= begin <= end <= data_size:
            raise CheckpointError(
                f"{path}: tensor {name!r} has data_offsets {[begin, end]} for {nbytes} bytes "
                f"in a data section of {data_size} bytes"
            )
    return header, 8 + n


def load_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """CPU tensors backed by a private memory map of the file (written pages are copied, never the file)."""
    header, start = read_safetensors_header(path)
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, shape = SAFETENSORS_DTYPES[info["dtype"]], info["shape"]
        begin, end = info["data_offsets"]
        if begin == end:
            tensors[name] = torch.empty(shape, dtype=dtype)
            continue
        source, offset = mm, start + begin
        if offset % _itemsize(dtype):  # only from writers that do not keep tensors aligned
            source, offset = bytearray(mm[offset : start + end]), 0
        count = (end - begin) // _itemsize(dtype)
        tensors[name] = torch.frombuffer(source, dtype=dtype, count=count, offset=offset).view(shape)
    return tensors


def _weight_files(directory: str):
    single, index = os.path.join(directory, WEIGHTS_NAME), os.path.join(directory, WEIGHTS_INDEX_NAME)
    if os.path.exists(single):
        return [single]
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        return [os.path.join(directory, name) for name in sorted(set(weight_map.values()))]
    raise CheckpointError(f"{directory}: neither {WEIGHTS_NAME} nor {WEIGHTS_INDEX_NAME} found")


def load_config(directory: str) -> Qwen3Config:
    path = os.path.join(directory, CONFIG_NAME)
    with open(path) as f:
        raw = json.load(f)
    if raw.get("model_type") != "qwen3":
        raise CheckpointError(
            f"{path}: model_type is {raw.get('model_type')!r}; "
            "only 'qwen3' (Qwen3ForCausalLM) checkpoints can be loaded"
        )
    return Qwen3Config.from_dict(raw)


@torch.no_grad()
def load_checkpoint(
    directory: str, device: Union[str, torch.device] = "cpu", dtype: Optional[torch.dtype] = None
) -> Qwen3ForCausalLM:
    """A Qwen3ForCausalLM from a Hugging Face checkpoint directory; dtype defaults to the config's torch_dtype."""
    directory = os.fspath(directory)
    config = load_config(directory)
    dtype = dtype or DTYPES[config.torch_dtype or "float32"]
    model = Qwen3ForCausalLM(config, device="meta", dtype=dtype).to_empty(device=device)
    expected = model.state_dict()
    loaded = set()
    for path in _weight_files(directory):
        if not os.path.exists(path):
            raise CheckpointError(f"{path}: shard named in {WEIGHTS_INDEX_NAME} is missing")
        for name, t in load_safetensors(path).items():
            # Tied checkpoints sometimes carry a copy of the head; the embedding is the one that counts.
            if name == "lm_head.weight" and config.tie_word_embeddings:
                continue
            if name not in expected:
                raise CheckpointError(f"{path}: unexpected tensor {name!r}, not a parameter of this Qwen3 config")
            if name in loaded:
                raise CheckpointError(f"{path}: tensor {name!r} appears in more than one file")
            if tuple(t.shape) != tuple(expected[name].shape):
                raise CheckpointError(
                    f"{path}: tensor {name!r} has shape {list(t.shape)}, the config needs {list(expected[name].shape)}"
                )
            expected[name].copy_(t)
            loaded.add(name)
    missing = sorted(set(expected) - loaded)
    if missing:
        shown = ", ".join(repr(name) for name in missing[:5])
        if len(missing) > 5:
            shown += f" and {len(missing) - 5} more"
        raise CheckpointError(f"{directory}: missing tensor(s) {shown}")
    model.config = dataclasses.replace(config, torch_dtype=dtype_name(dtype))
    return model


def save_checkpoint(
    model: Qwen3ForCausalLM,
    directory: str,
    *,
    extra: Optional[Mapping[str, Union[bytes, str, Dict[str, Any]]]] = None,
    dtype: Optional[torch.dtype] = None,
) -> Dict[str, str]:
    """Writes config.json and model.safetensors (the tied head is not stored, as in Hugging Face checkpoints).

    extra: more files for the same directory, by name: bytes as they are, str as UTF-8, dicts as JSON.
    dtype: cast floating-point weights to it (e.g. bf16 from fp32 master weights).
    Returns {file name: sha256} of every file written.
    """
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    config = model.config.to_dict()
    config["torch_dtype"] = dtype_name(dtype or model.lm_head_weight().dtype)
    files: Dict[str, bytes] = {CONFIG_NAME: (json.dumps(config, indent=2) + "\n").encode()}
    for name, content in (extra or {}).items():
        if os.path.basename(name) != name or name in (CONFIG_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME):
            raise ValueError(f"extra file name {name!r} must be a plain file name other than the checkpoint's own")
        if isinstance(content, dict):
            content = json.dumps(content, indent=2, ensure_ascii=False) + "\n"
        files[name] = content.encode() if isinstance(content, str) else bytes(content)
    weights = os.path.join(directory, WEIGHTS_NAME)
    hashes = {WEIGHTS_NAME: save_safetensors(weights, model.state_dict(), {"format": "pt"}, dtype=dtype)}
    for name, content in files.items():
        hashes[name] = _atomic_write(os.path.join(directory, name), [content])
    return hashes


def save_state_dict_file(path: str, state: Any) -> str:
    """torch.save to path atomically (optimizer and scheduler state); returns the file's sha256."""
    tmp = f"{path}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def load_state_dict_file(path: str, device: Union[str, torch.device] = "cpu") -> Any:
    return torch.load(path, map_location=device)
