"""The sharding itself, on one rank (a one-rank gloo group in this process; two ranks: test_distributed.py): the
decoder layers found for each architecture, activation checkpointing, unsharding for generation, a frozen model's
root released after its head is used, and the sharded model's clipping. On CUDA (skipped without): bf16
parameters and compute over fp32 masters and gradients, a bf16 frozen model, CPU offload, and the rollout cache
in bf16."""

import pytest
import torch
import torch.nn.functional as F
from torch.distributed.tensor import DTensor

from sovereign_engine.algorithms import autocast
from sovereign_engine.kernels import linear_cross_entropy
from sovereign_engine.models import TINY_CONFIGS, init_model, tiny_config
from sovereign_engine.optim import clip_grad_norm
from sovereign_engine.parallel import decoder_layers, gathered, process_group, release, shard
from sovereign_engine.sampler import sample

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
IDS = torch.randint(0, 151936, (2, 9), generator=torch.Generator().manual_seed(3))


@pytest.fixture
def one_rank():
    with process_group(torch.device("cpu"), 0, 1):
        yield


@pytest.fixture
def one_gpu():
    with process_group(torch.device("cuda"), 0, 1):
        yield


def is_sharded(module: torch.nn.Module) -> bool:
    """Whether a unit's parameters are its shards: a layer's all, the root's head (and embedding)."""
    if hasattr(module, "lm_head_weight"):
        return isinstance(module.lm_head_weight(), DTensor)
    return all(isinstance(p, DTensor) for p in module.parameters())


def layer_modules(model):
    return [getattr(parent, name) for parent, name in decoder_layers(model.hf)]


@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_decoder_layers_are_found_for_each_architecture(name):
    model = init_model(tiny_config(name), 0)
    layers = layer_modules(model)
    assert len(layers) == model.config.num_hidden_layers
    assert all(type(layer).__name__ in model.hf._no_split_modules for layer in layers)
    assert layers == list(model.hf.get_decoder().layers)


def test_checkpointing_recomputes_each_layer_and_gives_the_same_gradients(one_rank):
    grads, calls = [], []
    for checkpointing in (False, True):
        model = init_model(tiny_config("tiny-2"), 0).train()
        count = [0]
        for layer in layer_modules(model):  # counted by the MLP's own forward: recomputation runs no module hooks

            def counted(*args, _forward=layer.mlp.forward, **kwargs):
                count[0] += 1
                return _forward(*args, **kwargs)

            layer.mlp.forward = counted
        shard(model, torch.device("cpu"), trainable=True, checkpointing=checkpointing)
        linear_cross_entropy(model(IDS).flatten(0, 1), model.lm_head_weight(), IDS.flatten()).backward()
        grads.append({n.replace("._checkpoint_wrapped_module", ""): p.grad.full_tensor()
                      for n, p in model.named_parameters()})
        calls.append(count[0])
    layers = tiny_config("tiny-2").num_hidden_layers
    assert calls == [layers, 2 * layers]  # with checkpointing each layer runs again in backward
    assert grads[0].keys() == grads[1].keys()
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, atol=1e-6, rtol=0, msg=name)


def test_generation_runs_on_the_unsharded_model_and_reshards_after(one_rank):
    plain = init_model(tiny_config("tiny"), 1).eval()
    model = shard(init_model(tiny_config("tiny"), 1).eval(), torch.device("cpu"), trainable=True)
    layers = layer_modules(model)
    seen = []
    for layer in layers:
        layer.register_forward_hook(lambda module, *args: seen.append(is_sharded(module)))
    with gathered(model):
        completions = sample(model, [[1, 2, 3], [4, 5]], max_new_tokens=4, seeds=[7, 8])
        assert not any(is_sharded(layer) for layer in layers) and not is_sharded(model)
    assert seen and not any(seen)  # no decode step found a layer sharded, so none all-gathered it
    assert all(is_sharded(layer) for layer in layers) and is_sharded(model)
    assert completions == sample(plain, [[1, 2, 3], [4, 5]], max_new_tokens=4, seeds=[7, 8])
    # Training forwards reshard every layer after use again, and keep the root for the loss to read the head.
    seen.clear()
    model(torch.tensor([[1, 2, 3]]))
    assert all(is_sharded(layer) for layer in layers) and not is_sharded(model)


def test_a_frozen_root_stays_unsharded_for_its_head_until_released(one_rank):
    model = init_model(tiny_config("tiny-2"), 2).requires_grad_(False).eval()
    plain = init_model(tiny_config("tiny-2"), 2).eval()
    shard(model, torch.device("cpu"), trainable=False)
    with torch.no_grad():
        hidden = model(IDS)
        assert not isinstance(model.lm_head_weight(), DTensor)
        torch.testing.assert_close(model.logits(hidden), plain.logits(plain(IDS)), atol=1e-5, rtol=0)
    release(model)
    assert isinstance(model.lm_head_weight(), DTensor)


def test_clipping_a_sharded_model_matches_torch_on_the_plain_one(one_rank):
    plain = init_model(tiny_config("tiny"), 4)
    model = shard(init_model(tiny_config("tiny"), 4), torch.device("cpu"), trainable=True)
    for m in (plain, model):
        linear_cross_entropy(m(IDS).flatten(0, 1), m.lm_head_weight(), IDS.flatten()).backward()
    expected = float(torch.nn.utils.clip_grad_norm_(plain.parameters(), 0.1))
    assert clip_grad_norm(model.parameters(), 0.1) == pytest.approx(expected, rel=1e-5)
    for (name, p), q in zip(model.named_parameters(), plain.parameters()):
        torch.testing.assert_close(p.grad.full_tensor(), q.grad, rtol=1e-5, atol=1e-8, msg=name)


@CUDA
def test_cuda_computes_in_bf16_over_fp32_masters_and_fp32_gradients(one_gpu):
    device = torch.device("cuda")
    model = shard(init_model(tiny_config("tiny"), 0), device, trainable=True)
    dtypes = []  # the parameters an MLP computes with, inside its layer's forward (the layer unsharded)
    layer_modules(model)[0].mlp.register_forward_hook(lambda module, args, out: dtypes.append(
        {p.dtype for p in module.parameters()}))
    ids = IDS.to(device)
    with autocast(device):
        hidden = model(ids)
    linear_cross_entropy(hidden.flatten(0, 1).bfloat16(), model.lm_head_weight(), ids.flatten()).backward()
    assert dtypes == [{torch.bfloat16}]
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert {p.grad.dtype for p in model.parameters()} == {torch.float32}
    assert all(p.device.type == "cuda" for p in model.parameters())

    frozen = shard(init_model(tiny_config("tiny"), 0, dtype=torch.bfloat16).requires_grad_(False), device,
                   trainable=False, offload=True)
    assert {p.dtype for p in frozen.parameters()} == {torch.bfloat16}
    assert all(p.to_local().device.type == "cpu" for p in frozen.parameters())  # offloaded between uses
    with torch.no_grad(), autocast(device):
        assert frozen(ids).device.type == "cuda"
    release(frozen)


@CUDA
def test_cuda_rollout_cache_is_bf16_on_the_sharded_model(one_gpu, monkeypatch):
    model = shard(init_model(tiny_config("tiny"), 0, attention="sdpa"), torch.device("cuda"), trainable=True)
    seen, real = [], F.scaled_dot_product_attention

    def spy(q, k, v, *args, **kwargs):
        seen.append((k.dtype, v.dtype))
        return real(q, k, v, *args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    with gathered(model), autocast(torch.device("cuda")):
        sample(model, [[1, 2, 3]], max_new_tokens=3, temperature=0.0)
    assert set(seen) == {(torch.bfloat16, torch.bfloat16)}
