"""Checkpoints in Hugging Face format: loaded by transformers' `from_pretrained`, written as a folder a server loads.

A folder holds `config.json`, `generation_config.json` and the weights as safetensors: `model.safetensors` when
they fit in one shard, else `model-0000i-of-0000N.safetensors` with `model.safetensors.index.json`, shards cut at
`max_shard_bytes`; optionally the tokenizer's files beside them. Weights are written as transformers writes them
(`save_pretrained`: a tied head stored once, fused MoE experts in the architecture's original per-expert names),
in the model's dtype or a chosen one; `generation_config.json` lists the chat stop tokens as `eos_token_id`, so
a server, and the next stage, stops where the chat template ends a turn.

A run's step folder whose weights are not written out (an intermediate checkpoint: see optim.py) holds its
config.json and the sharded training state `state/` (torch.distributed.checkpoint); loading such a folder reads
the model's part of that state into one whole model instead.

Loading refuses, naming the folder, what transformers would otherwise fill with fresh random values: a missing,
unexpected or misshapen tensor.
"""

import copy
import hashlib
import json
import os
import shutil
import warnings
from typing import Any, Dict, Iterable, List, Optional, Union

import torch
import torch.distributed.checkpoint as dcp
import transformers
from safetensors import SafetensorError
from torch.distributed.checkpoint.metadata import TensorStorageMetadata
from transformers import AutoConfig, AutoModelForCausalLM
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

from .models import CausalLM, attention_implementation

WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
CONFIG_NAME = "config.json"
GENERATION_CONFIG_NAME = "generation_config.json"
# transformers' old default, and what published checkpoints use: shards a few GB each.
DEFAULT_MAX_SHARD_BYTES = 5 * 10**9
# What a tokenizer folder may hold that a server or transformers' AutoTokenizer reads.
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json",
    "merges.txt", "tokenizer.model", "chat_template.jinja", "chat_template.json",
)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# A step folder's sharded training state (torch.distributed.checkpoint): {"model": ..., "optimizer": ...}.
STATE_DIR = "state"


class CheckpointError(ValueError):
    pass


def sha256_file(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def weight_files(directory: str) -> List[str]:
    """The folder's safetensors weight files by name: the single file, or the index and the shards it names."""
    if os.path.exists(os.path.join(directory, WEIGHTS_NAME)):
        return [WEIGHTS_NAME]
    index = os.path.join(directory, WEIGHTS_INDEX_NAME)
    if not os.path.exists(index):
        raise CheckpointError(f"{directory}: neither {WEIGHTS_NAME} nor {WEIGHTS_INDEX_NAME} found")
    try:
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"{index}: not a safetensors index with a weight_map ({e})") from None
    for name in shards:
        if os.path.basename(name) != name or not os.path.exists(os.path.join(directory, name)):
            raise CheckpointError(f"{os.path.join(directory, name)}: shard named in {WEIGHTS_INDEX_NAME} is missing")
    return [WEIGHTS_INDEX_NAME, *shards]


def load_checkpoint(
    directory: str,
    device: Union[str, torch.device] = "cpu",
    dtype: Optional[torch.dtype] = None,
    *,
    attention: str = "auto",
) -> CausalLM:
    """The causal LM of an HF folder (any architecture transformers has a causal LM for), or of a run's step folder
    with only sharded state, on device; dtype None keeps the checkpoint's own."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise CheckpointError(f"{directory}: no such checkpoint folder")
    if not os.path.exists(os.path.join(directory, CONFIG_NAME)):
        raise CheckpointError(f"{directory}: no {CONFIG_NAME}")
    try:
        config = AutoConfig.from_pretrained(directory)
    except (ValueError, KeyError, OSError) as e:
        raise CheckpointError(
            f"{os.path.join(directory, CONFIG_NAME)}: not a configuration transformers "
            f"{transformers.__version__} can read ({e})"
        ) from None
    if type(config) not in MODEL_FOR_CAUSAL_LM_MAPPING:
        raise CheckpointError(
            f"{directory}: model_type {config.model_type!r} has no causal LM in transformers {transformers.__version__}"
        )
    state_dir = os.path.join(directory, STATE_DIR)
    if not _has_weights(directory) and os.path.exists(os.path.join(state_dir, ".metadata")):
        generation = None
        if os.path.exists(os.path.join(directory, GENERATION_CONFIG_NAME)):
            generation = transformers.GenerationConfig.from_pretrained(directory)
        model = model_from_state_dict(
            config, sharded_model_state(state_dir), generation_config=generation, dtype=dtype, attention=attention,
            device=device, source=directory,
        )
        return model
    weight_files(directory)
    try:
        # Mismatched shapes are reported, not raised, so that the error below can name them.
        hf, info = AutoModelForCausalLM.from_pretrained(
            directory, config=config, dtype=dtype or "auto", output_loading_info=True, ignore_mismatched_sizes=True,
            use_safetensors=True, attn_implementation=attention_implementation(attention, device),
        )
    except (RuntimeError, OSError, ValueError, SafetensorError) as e:
        raise CheckpointError(f"{directory}: transformers could not load it ({e})") from None
    _refuse_holes(directory, info)
    return CausalLM(hf.to(device))


def _has_weights(directory: str) -> bool:
    return any(os.path.exists(os.path.join(directory, name)) for name in (WEIGHTS_NAME, WEIGHTS_INDEX_NAME))


def _refuse_holes(source: str, info: Dict[str, Any]) -> None:
    problems = {
        "missing tensor(s)": sorted(info["missing_keys"]),
        "unexpected tensor(s)": sorted(info["unexpected_keys"]),
        "tensor(s) of the wrong shape": sorted(str(key) for key in info["mismatched_keys"]),
    }
    found = [f"{what} {_listed(names)}" for what, names in problems.items() if names]
    if found:
        raise CheckpointError(f"{source}: {'; '.join(found)}")


def sharded_model_state(state_dir: str) -> Dict[str, torch.Tensor]:
    """The whole model's tensors from a step folder's sharded state, by the names the trained CausalLM gave them
    ("hf.model.embed_tokens.weight", ...), read in this process alone (no collective, whatever ranks run)."""
    try:
        metadata = dcp.FileSystemReader(state_dir).read_metadata()
    except (OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{state_dir}: not a readable sharded checkpoint ({e})") from None
    prefix = "model."
    state = {
        key[len(prefix):]: torch.empty(meta.size, dtype=meta.properties.dtype)
        for key, meta in metadata.state_dict_metadata.items()
        if key.startswith(prefix) and isinstance(meta, TensorStorageMetadata)
    }
    if not state:
        raise CheckpointError(f"{state_dir}: holds no model tensors")
    with warnings.catch_warnings():  # that no process group takes part is the point here, not a mistake
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        dcp.load({"model": state}, checkpoint_id=state_dir, no_dist=True)
    return state


def model_from_state_dict(
    config: transformers.PretrainedConfig,
    state: Dict[str, torch.Tensor],
    *,
    generation_config: Optional[transformers.GenerationConfig] = None,
    dtype: Optional[torch.dtype] = None,
    attention: str = "sdpa",
    device: Union[str, torch.device] = "cpu",
    source: str = "state dict",
) -> CausalLM:
    """The causal LM for config with the tensors of state, a CausalLM's state dict ("hf." names) or its model's;
    transformers loads them as from a folder (tied weights, converted layouts, buffers), refusing holes. dtype
    None keeps the tensors' own."""
    state = {name[len("hf."):] if name.startswith("hf.") else name: t for name, t in state.items()}
    stored = next(iter(state.values())).dtype
    try:
        hf, info = MODEL_FOR_CAUSAL_LM_MAPPING[type(config)].from_pretrained(
            None, config=copy.deepcopy(config), state_dict=state, dtype=dtype or stored, output_loading_info=True,
            ignore_mismatched_sizes=True, attn_implementation=attention_implementation(attention, device),
        )
    except (RuntimeError, OSError, ValueError) as e:
        raise CheckpointError(f"{source}: transformers could not load it ({e})") from None
    _refuse_holes(source, info)
    # The tensors came in the model's own layout, so transformers applied, and recorded, no conversion, and would
    # save them in that layout too (fused MoE experts). Without the record it saves what a model built in memory
    # saves: the architecture's original names (per-expert tensors), which servers read.
    if getattr(hf, "_weight_conversions", None) == []:
        del hf._weight_conversions
    if generation_config is not None:
        hf.generation_config = copy.deepcopy(generation_config)
    return CausalLM(hf.to(device))


def _listed(names: List[str], shown: int = 5) -> str:
    text = ", ".join(repr(name) for name in names[:shown])
    return text + (f" and {len(names) - shown} more" if len(names) > shown else "")


def save_checkpoint(
    model: CausalLM,
    directory: str,
    *,
    dtype: Optional[torch.dtype] = None,
    stop_ids: Optional[Iterable[int]] = None,
    tokenizer: Optional[str] = None,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
) -> Dict[str, str]:
    """Writes the model as a servable HF folder; returns {file name: sha256} of every file written.

    dtype: the weights' stored dtype (default: the model's own; another one costs a cast copy of the weights).
    stop_ids: generation_config.json's eos_token_id (default: the ids the model's own configs name).
    tokenizer: a folder whose tokenizer files (TOKENIZER_FILES) are copied beside the weights.
    Weight files of an earlier save in the folder are replaced; other files are left alone.
    """
    directory = os.fspath(directory)
    hf = model.hf
    stored = dtype or model.lm_head_weight().dtype
    tokenizer_files = _tokenizer_files(tokenizer) if tokenizer is not None else []
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name in (WEIGHTS_NAME, WEIGHTS_INDEX_NAME) or (name.startswith("model-") and name.endswith(".safetensors")):
            os.remove(os.path.join(directory, name))
    state = None
    if stored != model.lm_head_weight().dtype:
        # One copy per tensor, shared where the model shares (a tied head), so it is still written once.
        copies: Dict[Any, torch.Tensor] = {}
        state = {}
        for name, t in hf.state_dict().items():
            key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
            if key not in copies:
                copies[key] = t.to(stored) if t.is_floating_point() else t
            state[name] = copies[key]
    hf.save_pretrained(directory, state_dict=state, max_shard_size=max_shard_bytes)
    hashes = save_configs(model, directory, dtype=stored, stop_ids=stop_ids)
    for name in tokenizer_files:
        shutil.copyfile(os.path.join(tokenizer, name), os.path.join(directory, name))
    names = [*weight_files(directory), *tokenizer_files]
    return {**hashes, **{name: sha256_file(os.path.join(directory, name)) for name in names}}


def save_configs(
    model: CausalLM, directory: str, *, dtype: Optional[torch.dtype] = None, stop_ids: Optional[Iterable[int]] = None
) -> Dict[str, str]:
    """Writes config.json (architecture, and dtype: default the model's) and generation_config.json (eos ids:
    stop_ids, default the model's own) into directory; returns {file name: sha256}."""
    hf = model.hf
    config = json.loads(hf.config.to_json_string(use_diff=True))
    config.update(architectures=[type(hf).__name__], dtype=_dtype_name(dtype or model.lm_head_weight().dtype))
    _write_json(os.path.join(directory, CONFIG_NAME), config)
    generation = copy.deepcopy(hf.generation_config) if hf.generation_config is not None else None
    if generation is None:
        generation = transformers.GenerationConfig.from_model_config(hf.config)
    generation.eos_token_id = [int(t) for t in (model.eos_ids() if stop_ids is None else stop_ids)]
    _write_json(os.path.join(directory, GENERATION_CONFIG_NAME), generation.to_diff_dict())
    return {name: sha256_file(os.path.join(directory, name)) for name in (CONFIG_NAME, GENERATION_CONFIG_NAME)}


def file_records(directory: str, hashes: Dict[str, str]) -> List[Dict[str, Any]]:
    """[{"name", "sha256", "bytes"}] by name, as the service records a checkpoint's files."""
    return [
        {"name": name, "sha256": sha, "bytes": os.path.getsize(os.path.join(directory, name))}
        for name, sha in sorted(hashes.items())
    ]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _write_json(path: str, value: Dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _tokenizer_files(folder: str) -> List[str]:
    names = [name for name in TOKENIZER_FILES if os.path.isfile(os.path.join(folder, name))]
    if "tokenizer.json" not in names and "tokenizer_config.json" not in names:
        raise CheckpointError(f"{folder}: no tokenizer.json or tokenizer_config.json to copy")
    return names


def save_state_dict_file(path: str, state: Any) -> str:
    """torch.save to path atomically (optimizer and scheduler state); returns the file's sha256."""
    tmp = f"{path}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)
    return sha256_file(path)


def load_state_dict_file(path: str, device: Union[str, torch.device] = "cpu") -> Any:
    return torch.load(path, map_location=device)
