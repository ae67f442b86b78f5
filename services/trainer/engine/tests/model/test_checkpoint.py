"""Checkpoints: bit-exact round trips, sharded index, clear errors, and safetensors bytes checked against the spec."""

import hashlib
import json
import struct

import pytest
import torch

from sovereign_engine.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_safetensors,
    load_state_dict_file,
    save_checkpoint,
    save_safetensors,
    save_state_dict_file,
)
from sovereign_engine.model import Qwen3Config, Qwen3ForCausalLM


def small_config(**overrides) -> Qwen3Config:
    fields = dict(
        vocab_size=1000, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, torch_dtype="float32",
    )
    return Qwen3Config(**{**fields, **overrides})


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert sa[name].dtype == sb[name].dtype and torch.equal(sa[name], sb[name]), name


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_round_trip_is_bit_exact(tmp_path, dtype, tied):
    model = Qwen3ForCausalLM(small_config(tie_word_embeddings=tied, attention_bias=not tied), seed=3).to(dtype)
    hashes = save_checkpoint(model, tmp_path)
    assert hashes == {name: sha256(tmp_path / name) for name in ("config.json", "model.safetensors")}
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architectures"] == ["Qwen3ForCausalLM"] and config["model_type"] == "qwen3"
    assert config["torch_dtype"] == str(dtype).replace("torch.", "")
    assert config["tie_word_embeddings"] is tied and config["vocab_size"] == 1000
    assert ("lm_head.weight" in load_safetensors(tmp_path / "model.safetensors")) == (not tied)

    loaded = load_checkpoint(tmp_path)
    assert_same_weights(loaded, model)
    assert loaded.config.to_dict() == {**model.config.to_dict(), "torch_dtype": config["torch_dtype"]}
    ids = torch.tensor([[1, 2, 3, 999]])
    with torch.no_grad():
        assert torch.equal(loaded.logits(loaded(ids)), model.logits(model(ids)))


def test_save_in_another_dtype_and_load_into_a_chosen_one(tmp_path):
    model = Qwen3ForCausalLM(small_config(), seed=4)
    save_checkpoint(model, tmp_path, dtype=torch.bfloat16)
    assert json.loads((tmp_path / "config.json").read_text())["torch_dtype"] == "bfloat16"
    assert all(t.dtype == torch.bfloat16 for t in load_safetensors(tmp_path / "model.safetensors").values())
    assert_same_weights(load_checkpoint(tmp_path), model.to(torch.bfloat16))
    as_fp32 = load_checkpoint(tmp_path, dtype=torch.float32)
    assert_same_weights(as_fp32, model.to(torch.float32))
    assert as_fp32.config.torch_dtype == "float32"


def test_extra_files_are_written_and_hashed(tmp_path):
    model = Qwen3ForCausalLM(small_config(), seed=0)
    extra = {"generation_config.json": {"temperature": 0.7}, "notes.txt": "ภาษาไทย", "blob.bin": b"\x00\xff"}
    hashes = save_checkpoint(model, tmp_path, extra=extra)
    assert set(hashes) == {"config.json", "model.safetensors", *extra}
    assert all(hashes[name] == sha256(tmp_path / name) for name in hashes)
    assert json.loads((tmp_path / "generation_config.json").read_text()) == {"temperature": 0.7}
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "ภาษาไทย"
    assert (tmp_path / "blob.bin").read_bytes() == b"\x00\xff"
    for bad in ("../escape.txt", "config.json"):
        with pytest.raises(ValueError, match="plain file name"):
            save_checkpoint(model, tmp_path, extra={bad: "x"})


def test_sharded_checkpoint_with_index(tmp_path):
    model = Qwen3ForCausalLM(small_config(tie_word_embeddings=False), seed=5)
    save_checkpoint(model, tmp_path)
    tensors = load_safetensors(tmp_path / "model.safetensors")
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for file, shard_names in shards.items():
        save_safetensors(tmp_path / file, {n: tensors[n] for n in shard_names}, {"format": "pt"})
    index = {
        "metadata": {"total_size": sum(t.numel() * t.element_size() for t in tensors.values())},
        "weight_map": {n: file for file, shard_names in shards.items() for n in shard_names},
    }
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    (tmp_path / "model.safetensors").unlink()
    assert_same_weights(load_checkpoint(tmp_path), model)
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model-00002-of-00002.safetensors: shard named in"):
        load_checkpoint(tmp_path)


def rewrite_weights(directory, edit):
    tensors = dict(load_safetensors(directory / "model.safetensors"))
    edit(tensors)
    save_safetensors(directory / "model.safetensors", tensors)


def test_clear_errors(tmp_path):
    model = Qwen3ForCausalLM(small_config(), seed=6)
    save_checkpoint(model, tmp_path)

    rewrite_weights(tmp_path, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
    with pytest.raises(CheckpointError, match=r"missing tensor\(s\) 'model.layers.1.mlp.up_proj.weight'"):
        load_checkpoint(tmp_path)

    save_checkpoint(model, tmp_path)
    rewrite_weights(tmp_path, lambda t: t.update({"model.norm.weight": torch.ones(31)}))
    with pytest.raises(CheckpointError, match=r"'model.norm.weight' has shape \[31\], the config needs \[32\]"):
        load_checkpoint(tmp_path)

    save_checkpoint(model, tmp_path)
    rewrite_weights(tmp_path, lambda t: t.update({"model.layers.2.mlp.up_proj.weight": torch.ones(48, 32)}))
    with pytest.raises(CheckpointError, match="unexpected tensor 'model.layers.2.mlp.up_proj.weight'"):
        load_checkpoint(tmp_path)

    save_checkpoint(model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(CheckpointError, match="model_type is 'llama'; only 'qwen3'"):
        load_checkpoint(tmp_path)

    (tmp_path / "config.json").write_text(json.dumps(config))
    data = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[:-10])
    with pytest.raises(CheckpointError, match="data_offsets"):
        load_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="neither model.safetensors nor model.safetensors.index.json"):
        load_checkpoint(tmp_path)


def test_tied_checkpoint_carrying_a_head_copy_loads(tmp_path):
    model = Qwen3ForCausalLM(small_config(), seed=7)
    save_checkpoint(model, tmp_path)
    rewrite_weights(tmp_path, lambda t: t.update({"lm_head.weight": t["model.embed_tokens.weight"].clone()}))
    assert_same_weights(load_checkpoint(tmp_path), model)


def bf16_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0] >> 16


def test_hand_written_safetensors_file_is_parsed(tmp_path):
    # Deliberately unsorted and unaligned (the f32 tensor starts at byte 3), with a metadata entry.
    parts = [
        ("flags", "BOOL", [3], bytes([1, 0, 1])),
        ("f32", "F32", [2, 2], struct.pack("<4f", 1.0, -2.5, 3.25, 0.0)),
        ("f16", "F16", [3], struct.pack("<3e", 0.5, -1.0, 65504.0)),
        ("bf16", "BF16", [2], struct.pack("<2H", bf16_bits(1.5), bf16_bits(-2.25))),
        ("i64", "I64", [2], struct.pack("<2q", -1, 2**40)),
        ("i32", "I32", [1, 1], struct.pack("<i", -7)),
        ("u8", "U8", [2], bytes([0, 255])),
        ("empty", "F32", [0, 4], b""),
    ]
    header, data, offset = {"__metadata__": {"format": "pt"}}, b"", 0
    for name, dtype, shape, raw in parts:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        data, offset = data + raw, offset + len(raw)
    blob = json.dumps(header).encode()
    path = tmp_path / "hand.safetensors"
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)

    t = load_safetensors(path)
    assert set(t) == {name for name, *_ in parts}
    assert torch.equal(t["flags"], torch.tensor([True, False, True]))
    assert torch.equal(t["f32"], torch.tensor([[1.0, -2.5], [3.25, 0.0]]))
    assert torch.equal(t["f16"], torch.tensor([0.5, -1.0, 65504.0], dtype=torch.float16))
    assert torch.equal(t["bf16"], torch.tensor([1.5, -2.25], dtype=torch.bfloat16))
    assert torch.equal(t["i64"], torch.tensor([-1, 2**40]))
    assert torch.equal(t["i32"], torch.tensor([[-7]], dtype=torch.int32))
    assert torch.equal(t["u8"], torch.tensor([0, 255], dtype=torch.uint8))
    assert t["empty"].shape == (0, 4) and t["empty"].dtype == torch.float32


def test_written_safetensors_follow_the_spec(tmp_path):
    tensors = {
        "b.bf16": torch.tensor([1.5, -2.25], dtype=torch.bfloat16),
        "a.f32": torch.tensor([[1.0], [-2.5]]),
        "c.bool": torch.tensor([True, False, True]),
        "d.i64": torch.tensor([-1, 2**40]),
    }
    path = tmp_path / "out.safetensors"
    digest = save_safetensors(path, tensors, {"format": "pt"})
    raw = path.read_bytes()
    assert digest == hashlib.sha256(raw).hexdigest()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0
    header = json.loads(raw[8 : 8 + n])
    assert header.pop("__metadata__") == {"format": "pt"}
    expected = {
        "a.f32": ("F32", [2, 1], struct.pack("<2f", 1.0, -2.5)),
        "b.bf16": ("BF16", [2], struct.pack("<2H", bf16_bits(1.5), bf16_bits(-2.25))),
        "c.bool": ("BOOL", [3], bytes([1, 0, 1])),
        "d.i64": ("I64", [2], struct.pack("<2q", -1, 2**40)),
    }
    spans = sorted(info["data_offsets"] for info in header.values())
    assert spans[0][0] == 0 and spans[-1][1] == len(raw) - 8 - n
    assert all(prev[1] == cur[0] for prev, cur in zip(spans, spans[1:])), "data must be contiguous"
    for name, (dtype, shape, data) in expected.items():
        begin, end = header[name]["data_offsets"]
        assert header[name]["dtype"] == dtype and header[name]["shape"] == shape
        assert raw[8 + n + begin : 8 + n + end] == data, name
        assert begin % torch.tensor([], dtype=tensors[name].dtype).element_size() == 0, "tensors stay aligned"


def test_state_dict_file_round_trip(tmp_path):
    state = {"step": 12, "exp_avg": {"w": torch.randn(3, 4)}, "lr": [1e-4, 2e-4]}
    path = tmp_path / "optimizer.pt"
    assert save_state_dict_file(str(path), state) == sha256(path)
    loaded = load_state_dict_file(str(path))
    assert loaded["step"] == 12 and loaded["lr"] == [1e-4, 2e-4]
    assert torch.equal(loaded["exp_avg"]["w"], state["exp_avg"]["w"])


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_hugging_face_transformers_agrees(tmp_path, tied):
    transformers = pytest.importorskip("transformers")
    if not hasattr(transformers, "Qwen3ForCausalLM"):
        pytest.skip("this transformers predates Qwen3")
    config = small_config(tie_word_embeddings=tied, attention_bias=not tied, initializer_range=0.1, rope_theta=1e4)
    model = Qwen3ForCausalLM(config, seed=9)
    g = torch.Generator().manual_seed(10)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or name.endswith(".bias"):
                p.add_(torch.randn(p.shape, generator=g) * 0.2)
    save_checkpoint(model, tmp_path / "ours")
    hf = transformers.Qwen3ForCausalLM.from_pretrained(str(tmp_path / "ours"), attn_implementation="eager").eval()
    ids = torch.randint(0, config.vocab_size, (2, 12), generator=g)
    with torch.no_grad():
        torch.testing.assert_close(model.logits(model(ids)), hf(input_ids=ids).logits.float(), atol=1e-5, rtol=0)
    hf.save_pretrained(str(tmp_path / "theirs"))
    assert_same_weights(load_checkpoint(tmp_path / "theirs", dtype=torch.float32), model)
