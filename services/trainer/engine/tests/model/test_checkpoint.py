"""Checkpoints: bit-exact round trips, the servable layout (shards and index, generation config with the stop ids,
tokenizer files, the stored dtype), and clear errors for folders transformers would load with random holes."""

import hashlib
import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoTokenizer, PreTrainedTokenizerFast
from tokenizers import Tokenizer, models, pre_tokenizers

from sovereign_engine.checkpoint import (
    CheckpointError, load_checkpoint, load_state_dict_file, save_checkpoint, save_state_dict_file,
)
from sovereign_engine.models import init_model, tiny_config


def small_config(model_type="qwen3", **overrides):
    fields = dict(
        vocab_size=1000, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, eos_token_id=7, bos_token_id=6,
    )
    if model_type == "qwen3_moe":
        fields.update(moe_intermediate_size=16, num_experts=4, num_experts_per_tok=2)
    return AutoConfig.for_model(model_type, **{**fields, **overrides})


def assert_same_weights(a, b):
    sa, sb = a.hf.state_dict(), b.hf.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert sa[name].dtype == sb[name].dtype and torch.equal(sa[name], sb[name]), name


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def logits(model, ids=((1, 2, 3, 999),)):
    with torch.no_grad():
        return model.logits(model(torch.tensor(ids)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize(
    "model_type,tied", [("qwen3", True), ("qwen3", False), ("qwen3_moe", False), ("llama", False)],
    ids=["qwen3-tied", "qwen3-untied", "qwen3_moe", "llama"],
)
def test_round_trip_is_bit_exact(tmp_path, model_type, tied, dtype):
    model = init_model(small_config(model_type, tie_word_embeddings=tied), 3, dtype=dtype)
    hashes = save_checkpoint(model, tmp_path)
    assert hashes == {name: sha256(tmp_path / name) for name in ("config.json", "generation_config.json",
                                                                  "model.safetensors")}
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == model_type and config["architectures"] == [type(model.hf).__name__]
    assert config["dtype"] == str(dtype).replace("torch.", "")
    assert config.get("tie_word_embeddings", True) is tied and config["vocab_size"] == 1000
    stored = load_file(tmp_path / "model.safetensors")
    assert ("lm_head.weight" in stored) == (not tied)  # a tied head is stored once, as the embedding
    if model_type == "qwen3_moe":  # the original per-expert names, as published Qwen3-MoE checkpoints have them
        assert "model.layers.0.mlp.experts.3.down_proj.weight" in stored
    assert json.loads((tmp_path / "generation_config.json").read_text())["eos_token_id"] == [7]

    loaded = load_checkpoint(tmp_path)
    assert_same_weights(loaded, model)
    assert torch.equal(logits(loaded), logits(model))


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_save_in_another_dtype_and_load_into_a_chosen_one(tmp_path, tied):
    config = small_config(tie_word_embeddings=tied)
    model = init_model(config, 4)
    save_checkpoint(model, tmp_path, dtype=torch.bfloat16)
    assert json.loads((tmp_path / "config.json").read_text())["dtype"] == "bfloat16"
    stored = load_file(tmp_path / "model.safetensors")
    assert all(t.dtype == torch.bfloat16 for t in stored.values()) and ("lm_head.weight" in stored) == (not tied)
    assert model.lm_head_weight().dtype == torch.float32  # the model itself is untouched
    bf16 = init_model(config, 4, dtype=torch.bfloat16)
    assert_same_weights(load_checkpoint(tmp_path), bf16)
    as_fp32 = load_checkpoint(tmp_path, dtype=torch.float32)
    assert_same_weights(as_fp32, init_model(config, 4, dtype=torch.bfloat16).to(torch.float32))
    assert as_fp32.lm_head_weight().dtype == torch.float32


def test_shards_index_and_replacing_an_earlier_save(tmp_path):
    model = init_model(small_config(tie_word_embeddings=False), 5)
    hashes = save_checkpoint(model, tmp_path, max_shard_bytes=60_000)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    n = len(shards)
    assert n > 2 and shards == [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
    assert set(hashes) == {"config.json", "generation_config.json", "model.safetensors.index.json", *shards}
    assert all(hashes[name] == sha256(tmp_path / name) for name in hashes)
    assert not (tmp_path / "model.safetensors").exists()
    tensors = {}
    for shard in shards:
        part = load_file(tmp_path / shard)
        # A shard holds tensors up to the limit, or a single tensor larger than it (the 1000 x 32 embedding).
        assert sum(t.numel() * t.element_size() for t in part.values()) <= 60_000 or len(part) == 1
        tensors.update(part)
    assert set(tensors) == set(index["weight_map"]) == set(model.hf.state_dict())
    assert_same_weights(load_checkpoint(tmp_path), model)

    # Saving again in one file leaves no shard or index behind for a loader to prefer.
    (tmp_path / "trainer_state.pt").write_bytes(b"kept")
    save_checkpoint(model, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json", "generation_config.json", "model.safetensors", "trainer_state.pt"
    ]
    assert_same_weights(load_checkpoint(tmp_path), model)


def chat_tokenizer(directory):
    """A small real tokenizer with a chat template, saved as transformers saves one."""
    vocab = {w: i for i, w in enumerate(["<unk>", "<|im_start|>", "<|im_end|>", "user", "assistant", "hello"])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", eos_token="<|im_end|>")
    tokenizer.chat_template = "{% for m in messages %}<|im_start|> {{ m.role }} {{ m.content }} <|im_end|> {% endfor %}"
    tokenizer.save_pretrained(directory)


def test_stop_ids_and_tokenizer_files_make_a_servable_folder(tmp_path):
    chat_tokenizer(tmp_path / "tokenizer")
    model = init_model(small_config(), 6)
    hashes = save_checkpoint(model, tmp_path / "out", stop_ids=[2, 7], tokenizer=str(tmp_path / "tokenizer"))
    out = tmp_path / "out"
    assert {"tokenizer.json", "tokenizer_config.json"} <= set(hashes)
    assert all(hashes[name] == sha256(out / name) for name in hashes)
    assert json.loads((out / "generation_config.json").read_text())["eos_token_id"] == [2, 7]
    tokenizer = AutoTokenizer.from_pretrained(out)
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hello"}], tokenize=False)
    assert text.split() == ["<|im_start|>", "user", "hello", "<|im_end|>"]
    assert load_checkpoint(out).eos_ids() == [2, 7]
    with pytest.raises(CheckpointError, match="no tokenizer.json or tokenizer_config.json"):
        save_checkpoint(model, tmp_path / "other", tokenizer=str(tmp_path / "out" / "missing"))


def rewrite_weights(directory, edit):
    tensors = dict(load_file(directory / "model.safetensors"))
    edit(tensors)
    save_file(tensors, directory / "model.safetensors", metadata={"format": "pt"})


def test_clear_errors(tmp_path):
    model = init_model(small_config(), 6)
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="empty: no config.json"):
        load_checkpoint(tmp_path / "empty")

    save_checkpoint(model, tmp_path)
    rewrite_weights(tmp_path, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
    with pytest.raises(CheckpointError, match=r"missing tensor\(s\) 'model.layers.1.mlp.up_proj.weight'"):
        load_checkpoint(tmp_path)

    save_checkpoint(model, tmp_path)
    rewrite_weights(tmp_path, lambda t: t.update({"model.norm.weight": torch.ones(31)}))
    with pytest.raises(CheckpointError, match=r"tensor\(s\) of the wrong shape .*model.norm.weight"):
        load_checkpoint(tmp_path)

    save_checkpoint(model, tmp_path)
    rewrite_weights(tmp_path, lambda t: t.update({"model.layers.2.mlp.up_proj.weight": torch.ones(48, 32)}))
    with pytest.raises(CheckpointError, match="unexpected tensor.*'model.layers.2.mlp.up_proj.weight'"):
        load_checkpoint(tmp_path)

    save_checkpoint(model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "qwen99"}))
    with pytest.raises(CheckpointError, match="config.json: not a configuration transformers .* can read"):
        load_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "vit"}))
    with pytest.raises(CheckpointError, match="model_type 'vit' has no causal LM"):
        load_checkpoint(tmp_path)

    (tmp_path / "config.json").write_text(json.dumps(config))
    data = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[:-10])
    with pytest.raises(CheckpointError, match="transformers could not load it"):
        load_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="neither model.safetensors nor model.safetensors.index.json"):
        load_checkpoint(tmp_path)

    save_checkpoint(model, tmp_path, max_shard_bytes=60_000)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    second = sorted(set(index["weight_map"].values()))[1]
    (tmp_path / second).unlink()
    with pytest.raises(CheckpointError, match=f"{second}: shard named in model.safetensors.index.json is missing"):
        load_checkpoint(tmp_path)


def test_tied_checkpoint_carrying_a_head_copy_loads(tmp_path):
    model = init_model(small_config(tie_word_embeddings=True), 7)
    save_checkpoint(model, tmp_path)
    rewrite_weights(tmp_path, lambda t: t.update({"lm_head.weight": t["model.embed_tokens.weight"].clone()}))
    loaded = load_checkpoint(tmp_path)
    assert_same_weights(loaded, model)
    assert loaded.lm_head_weight() is loaded.hf.get_input_embeddings().weight


def test_a_step_checkpoint_folder_starts_the_next_stage(tmp_path):
    """What a stage writes at step k is a model spec for the next: {"path": step-k}, the real Qwen3 vocabulary."""
    from sovereign_engine.train import load_model

    model = init_model(tiny_config("tiny-2"), 1)
    save_checkpoint(model, tmp_path / "step-3", stop_ids=[151645, 151643])
    loaded = load_model({"path": str(tmp_path / "step-3")}, torch.device("cpu"), torch.float32)
    assert_same_weights(loaded, model)
    assert loaded.eos_ids() == [151645, 151643]
    ids = ((151644, 872, 151645),)
    assert torch.equal(logits(loaded, ids), logits(model, ids))


@pytest.mark.parametrize("name", ["tiny", "tiny-2", "tiny-moe", "tiny-llama"])
def test_a_step_folder_with_only_sharded_state_loads_the_same_model(tmp_path, name):
    """An intermediate step checkpoint: config.json, generation_config.json and state/, no HF weights."""
    from sovereign_engine.optim import WarmupCosine, build_optimizer, build_scheduler, save_training_checkpoint

    model = init_model(tiny_config(name), 5)
    optimizer = build_optimizer(model, lr=0.1)
    save_training_checkpoint(str(tmp_path), model, optimizer, build_scheduler(optimizer, WarmupCosine(0, 2)), 1, {},
                             consolidated=False, stop_ids=[151645, 151643])
    assert not (tmp_path / "model.safetensors").exists() and (tmp_path / "state" / ".metadata").exists()
    loaded = load_checkpoint(tmp_path)
    assert_same_weights(loaded, model)
    assert {n: b for n, b in loaded.hf.named_buffers()}.keys() == {n for n, _ in model.hf.named_buffers()}
    for (n, a), (_, b) in zip(loaded.hf.named_buffers(), model.hf.named_buffers()):
        assert torch.equal(a, b), n  # rotary frequencies are in no checkpoint: computed as transformers does
    assert (loaded.lm_head_weight() is loaded.hf.get_input_embeddings().weight) == model.config.tie_word_embeddings
    assert loaded.eos_ids() == [151645, 151643]
    assert torch.equal(logits(loaded), logits(model))
    assert_same_weights(load_checkpoint(tmp_path, dtype=torch.bfloat16), init_model(tiny_config(name), 5).to(
        torch.bfloat16))


def test_state_dict_file_round_trip(tmp_path):
    state = {"step": 12, "exp_avg": {"w": torch.randn(3, 4)}, "lr": [1e-4, 2e-4]}
    path = tmp_path / "optimizer.pt"
    assert save_state_dict_file(str(path), state) == sha256(path)
    loaded = load_state_dict_file(str(path))
    assert loaded["step"] == 12 and loaded["lr"] == [1e-4, 2e-4]
    assert torch.equal(loaded["exp_avg"]["w"], state["exp_avg"]["w"])
