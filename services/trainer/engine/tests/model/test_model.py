"""Qwen3 model against a naive position-by-position, head-by-head reference; KV cache, packing, padding, config."""

import math

import pytest
import torch
import torch.nn.functional as F

from sovereign_engine.model import CONFIGS, TINY_CONFIGS, Qwen3Config, Qwen3ForCausalLM

ATOL = 1e-5


def small_config(**overrides) -> Qwen3Config:
    fields = dict(
        vocab_size=1000, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, rope_theta=1e4, initializer_range=0.1, torch_dtype="float32",
    )
    return Qwen3Config(**{**fields, **overrides})


def make_model(config: Qwen3Config, seed: int = 0) -> Qwen3ForCausalLM:
    """Norm weights and biases made random too, so that a reference ignoring them would disagree."""
    model = Qwen3ForCausalLM(config, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.add_(torch.randn(p.shape, generator=g) * 0.2)
            elif name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model


def naive_hidden(model: Qwen3ForCausalLM, ids) -> torch.Tensor:
    """Final hidden states [T, H] of one sequence, in float64, written out from the Qwen3 equations."""
    c = model.config
    sd = {k: v.double() for k, v in model.state_dict().items()}
    D, group = c.head_dim, c.num_attention_heads // c.num_key_value_heads

    def linear(x, prefix):
        y = sd[prefix + ".weight"] @ x
        return y + sd[prefix + ".bias"] if prefix + ".bias" in sd else y

    def rms(x, weight):
        return weight * (x / torch.sqrt((x * x).mean() + c.rms_norm_eps))

    def rope(x, pos):
        # Dimension i and i + D/2 form a pair rotated by pos * theta^(-2i/D).
        out, half = x.clone(), D // 2
        for i in range(half):
            angle = pos * c.rope_theta ** (-2 * i / D)
            out[i] = x[i] * math.cos(angle) - x[i + half] * math.sin(angle)
            out[i + half] = x[i + half] * math.cos(angle) + x[i] * math.sin(angle)
        return out

    xs = [sd["model.embed_tokens.weight"][t] for t in ids]
    for layer in range(c.num_hidden_layers):
        p = f"model.layers.{layer}."
        normed = [rms(x, sd[p + "input_layernorm.weight"]) for x in xs]
        k_norm, kv_heads = sd[p + "self_attn.k_norm.weight"], range(c.num_key_value_heads)
        keys = [
            [rope(rms(linear(n, p + "self_attn.k_proj")[g * D : (g + 1) * D], k_norm), j) for g in kv_heads]
            for j, n in enumerate(normed)
        ]
        values = [linear(n, p + "self_attn.v_proj") for n in normed]
        attn_out = []
        for t, n in enumerate(normed):
            q = linear(n, p + "self_attn.q_proj")
            heads = []
            for h in range(c.num_attention_heads):
                g = h // group
                qh = rope(rms(q[h * D : (h + 1) * D], sd[p + "self_attn.q_norm.weight"]), t)
                scores = torch.stack([qh @ keys[j][g] for j in range(t + 1)]) / math.sqrt(D)
                weights = torch.softmax(scores, 0)
                heads.append(sum(weights[j] * values[j][g * D : (g + 1) * D] for j in range(t + 1)))
            attn_out.append(linear(torch.cat(heads), p + "self_attn.o_proj"))
        xs = [x + a for x, a in zip(xs, attn_out)]
        normed = [rms(x, sd[p + "post_attention_layernorm.weight"]) for x in xs]
        for i, n in enumerate(normed):
            inner = F.silu(linear(n, p + "mlp.gate_proj")) * linear(n, p + "mlp.up_proj")
            xs[i] = xs[i] + linear(inner, p + "mlp.down_proj")
    return torch.stack([rms(x, sd["model.norm.weight"]) for x in xs])


def naive_logits(model, hidden):
    head = model.state_dict().get("lm_head.weight", model.state_dict()["model.embed_tokens.weight"])
    return hidden @ head.double().t()


@pytest.mark.parametrize(
    "config",
    [
        small_config(),
        small_config(
            tie_word_embeddings=False, attention_bias=True, num_key_value_heads=1, head_dim=24, rope_theta=1e6
        ),
    ],
    ids=["tied-gqa2", "untied-bias-mqa-headdim24"],
)
def test_forward_matches_naive_reference(config):
    model = make_model(config)
    ids = torch.randint(0, config.vocab_size, (2, 7), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        hidden = model(ids)
        logits = model.logits(hidden)
    for row in range(2):
        ref = naive_hidden(model, ids[row].tolist())
        torch.testing.assert_close(hidden[row].double(), ref, atol=ATOL, rtol=0)
        torch.testing.assert_close(logits[row].double(), naive_logits(model, ref), atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_tiny_configs_with_the_real_vocabulary(name):
    config = TINY_CONFIGS[name]
    assert config.vocab_size == 151936
    model = Qwen3ForCausalLM(config, seed=0)
    assert ("lm_head.weight" in model.state_dict()) == (not config.tie_word_embeddings)
    expected_head = model.model.embed_tokens.weight if config.tie_word_embeddings else model.lm_head.weight
    assert model.lm_head_weight() is expected_head
    ids = torch.tensor([[0, 151935, 42, 9000, 151643]])
    with torch.no_grad():
        hidden = model(ids)
        logits = model.logits(hidden)
    assert hidden.shape == (1, 5, config.hidden_size) and logits.shape == (1, 5, 151936)
    ref = naive_hidden(model, ids[0].tolist())
    torch.testing.assert_close(hidden[0].double(), ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(logits[0].double(), naive_logits(model, ref), atol=ATOL, rtol=0)


def test_qwen3_0_6b_shape():
    model = Qwen3ForCausalLM(CONFIGS["qwen3-0.6b"], device="meta")
    total = sum(p.numel() for p in model.parameters())
    embedding = model.model.embed_tokens.weight.numel()
    # Published sizes: 0.6B parameters, 0.44B of them outside the (tied) embedding.
    assert round(total / 1e9, 1) == 0.6 and round((total - embedding) / 1e9, 2) == 0.44
    assert model.lm_head is None


def test_kv_cache_decoding_matches_full_forward():
    model = make_model(small_config())
    ids = torch.randint(0, 1000, (2, 11), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = model.logits(model(ids))
        cache = model.new_kv_cache(2, 12)
        steps = [model.logits(model(ids[:, :4], kv_cache=cache))]  # prefill
        steps.append(model.logits(model(ids[:, 4:7], kv_cache=cache)))  # several tokens at once
        for t in range(7, 11):
            steps.append(model.logits(model(ids[:, t : t + 1], kv_cache=cache)))
    assert cache.length == 11
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=ATOL, rtol=0)
    with pytest.raises(ValueError, match="KV cache holds 12"):
        model(ids[:, :2], kv_cache=cache)


def test_left_padded_batch_matches_each_sequence_alone():
    model = make_model(small_config())
    seqs = [[5, 6, 7, 8, 9, 10], [11, 12], [13, 14, 15, 16]]
    width = max(map(len, seqs))
    ids = torch.tensor([[0] * (width - len(s)) + s for s in seqs])
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs])
    with torch.no_grad():
        batched = model(ids, attention_mask=mask)
        assert torch.isfinite(batched).all()
        for row, s in enumerate(seqs):
            alone = model(torch.tensor([s]))[0]
            torch.testing.assert_close(batched[row, width - len(s) :], alone, atol=ATOL, rtol=0)


def test_packed_documents_match_each_document_alone():
    model = make_model(small_config())
    a, b = [3, 1, 4, 1, 5], [9, 2, 6, 5, 3, 5]
    row = torch.tensor([a + b])
    positions = torch.tensor([list(range(len(a))) + list(range(len(b)))])
    documents = torch.tensor([[0] * len(a) + [1] * len(b)])
    with torch.no_grad():
        alone = torch.cat([model(torch.tensor([a])), model(torch.tensor([b]))], 1)
        from_positions = model(row, positions)
        from_documents = model(row, positions, document_ids=documents)
        unpacked = model(row)
    torch.testing.assert_close(from_positions, alone, atol=ATOL, rtol=0)
    torch.testing.assert_close(from_documents, alone, atol=ATOL, rtol=0)
    # One plain causal sequence lets b see a, so b's states must differ: the masking above did something.
    assert not torch.allclose(unpacked[:, len(a) :], alone[:, len(a) :], atol=1e-3)
    torch.testing.assert_close(unpacked[:, : len(a)], alone[:, : len(a)], atol=ATOL, rtol=0)


def test_packed_documents_do_not_exchange_gradients():
    model = make_model(small_config())
    row = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]])
    positions = torch.tensor([[0, 1, 2, 0, 1, 2, 3, 4]])
    embeddings = []

    def keep_grad(module, inputs, output):
        output.retain_grad()
        embeddings.append(output)

    model.model.embed_tokens.register_forward_hook(keep_grad)
    model(row, positions)[0, 3:].sum().backward()
    grad = embeddings[0].grad[0]
    assert grad[:3].abs().max() == 0 and grad[3:].abs().min() > 0


def _fake_sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False):
    """torch 2.x semantics: boolean mask True = attend; is_causal is a lower-triangular [L, S] mask."""
    if is_causal:
        assert attn_mask is None
        attn_mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    return scores.softmax(-1) @ v


def test_sdpa_path_matches_matmul_path(monkeypatch):
    model = make_model(small_config())
    ids = torch.randint(1, 1000, (2, 9), generator=torch.Generator().manual_seed(2))
    positions = torch.tensor([[0, 1, 2, 3, 0, 1, 2, 3, 4]] * 2)
    mask = torch.tensor([[1] * 9, [0, 0, 0] + [1] * 6])

    def run():
        with torch.no_grad():
            cache = model.new_kv_cache(2, 10)
            model(ids[:, :8], attention_mask=mask[:, :8], kv_cache=cache)
            decoded = model(ids[:, 8:], kv_cache=cache)
            return [model(ids), model(ids, positions), model(ids, attention_mask=mask), decoded]

    real_sdpa = getattr(F, "scaled_dot_product_attention", None)
    monkeypatch.delattr(F, "scaled_dot_product_attention", raising=False)
    matmul = run()
    implementations = [_fake_sdpa] + ([real_sdpa] if real_sdpa is not None else [])
    for sdpa in implementations:
        monkeypatch.setattr(F, "scaled_dot_product_attention", sdpa, raising=False)
        for got, want in zip(run(), matmul):
            torch.testing.assert_close(got, want, atol=ATOL, rtol=0)


def test_gradient_checkpointing_gives_the_same_gradients():
    ids = torch.randint(0, 1000, (2, 6), generator=torch.Generator().manual_seed(3))
    grads = []
    for checkpointing in (False, True):
        model = make_model(small_config())
        model.gradient_checkpointing = checkpointing
        model.logits(model(ids)).logsumexp(-1).sum().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, atol=1e-6, rtol=0, msg=name)


def test_init_weights_follow_hugging_face_and_the_seed():
    config = small_config(initializer_range=0.02, attention_bias=True, vocab_size=4000)
    a, b, c = Qwen3ForCausalLM(config, seed=7), Qwen3ForCausalLM(config, seed=7), Qwen3ForCausalLM(config, seed=8)
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb), name
        if name.endswith("norm.weight"):
            assert torch.equal(pa, torch.ones_like(pa)), name
        elif name.endswith(".bias"):
            assert torch.equal(pa, torch.zeros_like(pa)), name
        else:
            assert not torch.equal(pa, pc), name
    std = a.model.embed_tokens.weight.std().item()
    assert abs(std - 0.02) < 0.001 and abs(a.model.embed_tokens.weight.mean().item()) < 0.001


def test_config_from_hugging_face_dict():
    hf = {
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 151643,
        "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024, "initializer_range": 0.02,
        "intermediate_size": 3072, "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
        "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
        "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True,
        "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False,
        "vocab_size": 151936,
    }
    config = Qwen3Config.from_dict(hf)
    assert config == CONFIGS["qwen3-0.6b"]
    assert Qwen3Config.from_dict(config.to_dict()) == config
    written = config.to_dict()
    assert {k: v for k, v in written.items() if k in hf} == {k: v for k, v in hf.items() if k in written}
    newer = {**hf, "dtype": "float32", "rope_parameters": {"rope_type": "default", "rope_theta": 5e5}}
    del newer["torch_dtype"], newer["rope_theta"]
    assert Qwen3Config.from_dict(newer).torch_dtype == "float32" and Qwen3Config.from_dict(newer).rope_theta == 5e5
    with pytest.raises(ValueError, match="yarn"):
        Qwen3Config.from_dict({**hf, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}})
    with pytest.raises(ValueError, match="sliding-window"):
        Qwen3Config.from_dict({**hf, "use_sliding_window": True})
    with pytest.raises(ValueError, match="multiple"):
        Qwen3Config.from_dict({**hf, "num_key_value_heads": 3})
