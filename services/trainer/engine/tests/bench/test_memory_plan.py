"""The memory plan (bench/memory_plan.py): parameter counts and saved activations against real transformers models,
hand-checked totals, and what offload, sharding and checkpointing move."""

import json
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import memory_plan as mp  # noqa: E402

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def transformers_config(config):
    config = {k: v for k, v in config.items() if k != "architectures"}
    return AutoConfig.for_model(config.pop("model_type"), **config)


def meta_model(config):
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(transformers_config(config))


@pytest.mark.parametrize("name", list(mp.PRESETS))
def test_preset_parameter_counts_match_transformers(name):
    model = meta_model(mp.PRESETS[name])
    counts = mp.param_counts(mp.load_shape(name))
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert counts["embedding"] == model.get_input_embeddings().weight.numel()
    assert counts["head"] == (0 if model.config.tie_word_embeddings else model.get_output_embeddings().weight.numel())


def test_published_sizes():
    # The model cards' totals (0.6B, 1.7B, 4.0B, 8.2B, 30.5B) and the MoE's 3.3B activated parameters.
    totals = {name: mp.param_counts(mp.load_shape(name))["total"] / 1e9 for name in mp.PRESETS}
    assert [round(totals[n], 1) for n in mp.PRESETS] == [0.6, 1.7, 4.0, 8.2, 30.5]
    assert 3.3e9 <= mp.param_counts(mp.load_shape("Qwen3-30B-A3B"))["active"] < 3.4e9


@pytest.mark.parametrize("overrides", [
    dict(model_type="qwen3", attention_bias=True, tie_word_embeddings=True),
    dict(model_type="qwen3_moe", num_experts=6, num_experts_per_tok=2, moe_intermediate_size=24,
         decoder_sparse_step=2, mlp_only_layers=[1], attention_bias=True),
    dict(model_type="qwen3_moe", num_experts=4, num_experts_per_tok=1, moe_intermediate_size=40, head_dim=24),
])
def test_other_layouts_match_transformers(overrides):
    config = {**dict(vocab_size=512, hidden_size=64, intermediate_size=96, num_hidden_layers=4, num_attention_heads=4,
                     num_key_value_heads=2, head_dim=16, tie_word_embeddings=False), **overrides}
    model = meta_model(config)
    assert mp.param_counts(mp.Shape.from_config(config))["total"] == sum(p.numel() for p in model.parameters())


def saved_bytes(model, ids):
    """Bytes of the distinct tensors autograd saves during the decoder body's forward, parameters left out."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model.model(ids)
    return sum(seen.values())


@pytest.mark.parametrize("config", [
    dict(model_type="qwen3", intermediate_size=96),
    dict(model_type="qwen3_moe", intermediate_size=96, num_experts=8, num_experts_per_tok=2, moe_intermediate_size=40),
])
def test_saved_activations_match_transformers(config):
    config = dict(vocab_size=512, hidden_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                  head_dim=16, attn_implementation="sdpa", **config)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(transformers_config(config)).to(torch.bfloat16)
    tokens = 48
    ids = torch.randint(0, 512, (1, tokens))
    shape = mp.Shape.from_config(config)
    # The MoE block also saves per-expert token counts (int32 [E]) once per layer, not per token.
    per_layer_extra = 4 * shape.experts
    want = mp.saved_activation_bytes(shape, tokens, checkpointing=False) + shape.layers * per_layer_extra
    assert saved_bytes(model, ids) == want


def test_hand_checked_kv_cache_and_kernel():
    qwen8b = mp.load_shape("Qwen3-8B")
    assert mp.kv_cache_bytes(qwen8b, 1000) == 36 * 2 * 8 * 128 * 2 * 1000 == 147_456_000
    # A step's rollouts: 8 prompts of 1024 + 512 tokens, one completion each for OPD, groupSize 8 for GRPO.
    one = mp.MACHINES["1xH100"]
    opd = mp.plan("opd", qwen8b, one, "none", mp.Setup())["phases"]["rollout decode"]["KV cache"]
    grpo = mp.plan("grpo", qwen8b, one, "none", mp.Setup())["phases"]["rollout decode"]["KV cache"]
    assert (opd, grpo) == (147_456 * 8 * 1536, 147_456 * 64 * 1536)
    eight = mp.plan("grpo", qwen8b, mp.MACHINES["8xH100"], "none", mp.Setup())["phases"]["rollout decode"]
    assert eight["KV cache"] == 147_456 * 8 * 1536
    # 4TH fp32 grad_h + 6VH (fp32 grad_W and a bf16 [V, H] product) + 6 x chunk x V (fp32 logits, bf16 copy).
    peak = mp.kernel_bytes("cross_entropy", 16384, 4096, mp.VOCAB, 1024)["peak"]
    assert peak == 4 * 16384 * 4096 + 6 * 622_329_856 + 6 * 1024 * 151_936 == 4_935_909_376


def test_hand_checked_sft_total():
    """Qwen3-0.6B SFT on one H100, 4096 tokens, activation checkpointing, worked out by hand."""
    row = mp.plan("sft", mp.load_shape("Qwen3-0.6B"), mp.MACHINES["1xH100"], "none", mp.Setup())
    state = 16 * 596_049_920
    root, layer = 151_936 * 1024 + 1024, 1024 * 2048 + 2 * 1024 * 1024 + 2048 * 1024 + 256 + 3 * 1024 * 3072 + 2048
    assert root + 28 * layer == 596_049_920
    activations = 4096 * (28 * 2 * 1024 + 8 + 4 * 128 + 6 * 1024 + 4)
    kernel_forward = 4 * 4096 * 1024 + 6 * 151_936 * 1024 + 6 * 1024 * 151_936
    forward_and_loss = 2 * root + 4 * layer + activations + kernel_forward
    assert row["peak_phase"] == "forward + loss"
    assert row["gpu_bytes"] == state + forward_and_loss == 12_056_849_408
    assert row["host_bytes"] == 3 * mp.GIB
    assert row["fits"]


def test_offload_moves_exactly_the_sharded_state():
    qwen8b = mp.load_shape("Qwen3-8B")
    teacher = mp.load_shape("Qwen3-30B-A3B")
    machine, setup = mp.MACHINES["8xH100"], mp.Setup()
    none, frozen, every = (mp.plan("opd", qwen8b, machine, o, setup, teacher) for o in ("none", "frozen", "all"))
    state, teacher_shard = 16 * 8_190_735_360 // 8, 2 * 30_532_122_624 // 8
    assert none["gpu_bytes"] - frozen["gpu_bytes"] == teacher_shard
    assert frozen["host_bytes"] - none["host_bytes"] == 8 * teacher_shard
    assert frozen["gpu_bytes"] - every["gpu_bytes"] == state
    assert every["host_bytes"] - frozen["host_bytes"] == 8 * state


@pytest.mark.parametrize("stage", mp.STAGES)
def test_more_gpus_and_checkpointing_never_cost_memory(stage):
    shape = mp.load_shape("Qwen3-4B")
    one, eight = mp.MACHINES["1xH100"], mp.MACHINES["8xH100"]

    def gpu(machine, setup):
        return mp.plan(stage, shape, machine, "none", setup)["gpu_bytes"]

    assert gpu(eight, mp.Setup()) < gpu(one, mp.Setup())
    # Long rows and few rollouts, so that training, not generation, is the peak.
    assert gpu(eight, mp.Setup(seq_len=16384, prompts=1)) < gpu(
        eight, mp.Setup(seq_len=16384, prompts=1, checkpointing=False))


def test_fits_is_the_budget_with_headroom_and_context():
    shape, setup = mp.load_shape("Qwen3-1.7B"), mp.Setup()
    need = mp.plan("sft", shape, mp.MACHINES["1xH100"], "none", setup)["gpu_bytes"]
    exact = (need / mp.GIB + setup.context_gib) / (1 - setup.headroom)
    assert mp.plan("sft", shape, mp.Machine(1, exact * 1.001, 128), "none", setup)["fits"]
    assert not mp.plan("sft", shape, mp.Machine(1, exact * 0.999, 128), "none", setup)["fits"]
    assert not mp.plan("sft", shape, mp.Machine(1, 80, 2), "none", setup)["fits"]  # 3 GiB of process > 90% of 2


def test_config_json_file_and_refused_layouts(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(mp.PRESETS["Qwen3-4B"]))
    assert mp.param_counts(mp.load_shape(str(tmp_path))) == mp.param_counts(mp.load_shape("Qwen3-4B"))
    with pytest.raises(ValueError, match="only Qwen3"):
        mp.Shape.from_config({**mp.PRESETS["Qwen3-4B"], "model_type": "llama"})


def test_command_line_prints_assumptions_and_table(tmp_path, capsys):
    out = tmp_path / "plan.json"
    rows = mp.main(["--models", "Qwen3-8B", "--machines", "8xH100", "--stages", "sft", "grpo", "--offload", "none",
                    "--json", str(out), "--detail"])
    text = capsys.readouterr().out
    assert "computed, not measured" in text and mp.ASSUMPTIONS[1] in text
    assert "| Qwen3-8B | sft | 8xH100 | none |" in text and "<- peak" in text
    saved = json.loads(out.read_text())
    assert [(r["stage"], r["gpu_bytes"]) for r in saved["rows"]] == [(r["stage"], r["gpu_bytes"]) for r in rows]
    assert len(rows) == 2


@CUDA
@pytest.mark.parametrize("kernel", ["cross_entropy", "forward_kl", "jsd", "selected_logprobs"])
def test_kernel_peak_within_ten_percent_of_the_plan(kernel):
    from sovereign_engine.kernels import linear_cross_entropy, linear_divergence, linear_selected_logprobs

    n, h, v, chunk = 4096, 1024, mp.VOCAB, 1024
    g = torch.Generator(device="cuda").manual_seed(0)
    hidden = torch.randn(n, h, device="cuda", dtype=torch.bfloat16, generator=g).requires_grad_()
    weight = (torch.randn(v, h, device="cuda", dtype=torch.bfloat16, generator=g) * h**-0.5).requires_grad_()
    teacher = torch.randn(n, h, device="cuda", dtype=torch.bfloat16, generator=g)
    labels = torch.randint(0, v, (n,), device="cuda", generator=g)
    losses = {
        "cross_entropy": lambda: linear_cross_entropy(hidden, weight, labels, chunk_size=chunk),
        "forward_kl": lambda: linear_divergence(hidden, weight, teacher, weight.detach(), chunk_size=chunk),
        "jsd": lambda: linear_divergence(hidden, weight, teacher, weight.detach(), kind="jsd", chunk_size=chunk),
        "selected_logprobs": lambda: linear_selected_logprobs(hidden, weight, labels, chunk_size=chunk).sum(),
    }
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    losses[kernel]().backward()
    torch.cuda.synchronize()
    measured = torch.cuda.max_memory_allocated() - before
    planned = mp.kernel_bytes(kernel, n, h, v, chunk)["peak"]
    assert abs(measured - planned) <= 0.1 * planned, (measured, planned)
