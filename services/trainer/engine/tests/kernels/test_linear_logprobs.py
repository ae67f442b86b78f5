"""Chunked selected log-probs and entropy against log_softmax on materialised logits: values, gradients, memory."""

import pytest
import torch

from sovereign_engine.kernels import linear_selected_logprobs

# fp32 on CPU: kernel and reference differ only in summation order.
ATOL, RTOL = 1e-5, 1e-5
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def reference(hidden, weight, token_ids, temperature=1.0, ignore_index=-100):
    logp = torch.log_softmax((hidden @ weight.t()).float() / temperature, dim=-1)
    keep = token_ids != ignore_index
    selected = logp.gather(1, torch.where(keep, token_ids, 0)[:, None]).squeeze(1) * keep
    entropy = -(logp.exp() * logp).sum(-1) * keep
    return selected, entropy


def make(n, h, v, dtype=torch.float32, device="cpu", seed=0, ignored=()):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, h, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
    weight = (torch.randn(v, h, generator=g, dtype=torch.float64) / h**0.5).to(device=device, dtype=dtype)
    token_ids = torch.randint(0, v, (n,), generator=g)
    token_ids[list(ignored)] = -100
    # Per-token weights as GRPO's advantage-weighted ratios would send back.
    grad_out = torch.randn(n, generator=g).to(device)
    return hidden, weight, token_ids.to(device), grad_out


def value_and_grads(fn, grad_out, hidden, weight):
    x, w = hidden.detach().clone().requires_grad_(), weight.detach().clone().requires_grad_()
    logprobs = fn(x, w)
    logprobs.backward(grad_out.to(logprobs.dtype))
    return logprobs.detach(), x.grad, w.grad


def assert_close(a, b, atol=ATOL, rtol=RTOL):
    torch.testing.assert_close(a, b, atol=atol, rtol=rtol)


@pytest.mark.parametrize(
    "n,h,v,chunk,ignored",
    [
        (1, 3, 37, 1, ()),  # single token
        (7, 5, 37, 3, (2,)),  # N not divisible by chunk, H odd
        (10, 8, 1000, 4, (0, 9)),
        (5, 7, 1000, 64, ()),  # chunk larger than N
    ],
)
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_matches_reference(n, h, v, chunk, ignored, temperature):
    hidden, weight, token_ids, grad_out = make(n, h, v, ignored=ignored)
    got = value_and_grads(
        lambda x, w: linear_selected_logprobs(x, w, token_ids, temperature=temperature, chunk_size=chunk),
        grad_out, hidden, weight,
    )
    want = value_and_grads(lambda x, w: reference(x, w, token_ids, temperature)[0], grad_out, hidden, weight)
    for g, w in zip(got, want):
        assert g.dtype == torch.float32
        assert_close(g, w)
    assert not got[0][list(ignored)].any() and not got[1][list(ignored)].any()


@pytest.mark.parametrize("temperature", [1.0, 1.5])
def test_entropy(temperature):
    hidden, weight, token_ids, _ = make(2 * 6, 5, 37, ignored=(4,))
    logprobs, entropy = linear_selected_logprobs(
        hidden.view(2, 6, 5), weight, token_ids.view(2, 6), temperature=temperature, chunk_size=5, return_entropy=True
    )
    want_logprobs, want_entropy = reference(hidden, weight, token_ids, temperature)
    assert logprobs.shape == entropy.shape == (2, 6)
    assert not entropy.requires_grad
    assert_close(logprobs.view(-1), want_logprobs)
    assert_close(entropy.view(-1), want_entropy)


def test_chunk_size_does_not_change_result():
    hidden, weight, token_ids, grad_out = make(11, 6, 37, ignored=(3,))
    runs = [
        value_and_grads(lambda x, w: linear_selected_logprobs(x, w, token_ids, chunk_size=k), grad_out, hidden, weight)
        for k in (1, 2, 3, 11, 4096)
    ]
    for run in runs[1:]:
        for g, g0 in zip(run, runs[0]):
            assert_close(g, g0, atol=1e-6, rtol=1e-6)


def test_all_ignored_gives_zeros():
    hidden, weight, token_ids, grad_out = make(5, 4, 37, ignored=range(5))
    logprobs, grad_hidden, grad_weight = value_and_grads(
        lambda x, w: linear_selected_logprobs(x, w, token_ids, chunk_size=2), grad_out, hidden, weight
    )
    for t in (logprobs, grad_hidden, grad_weight):
        assert torch.isfinite(t).all() and not t.any()


def test_logprobs_of_a_sum_of_tokens_is_the_sum():
    # The summed selected log-probs are minus the summed cross-entropy: ties the two gradients together.
    hidden, weight, token_ids, _ = make(9, 5, 37, ignored=(0, 5))
    got = value_and_grads(
        lambda x, w: -linear_selected_logprobs(x, w, token_ids, chunk_size=4).sum().view(1),
        torch.ones(1), hidden, weight,
    )
    want = value_and_grads(
        lambda x, w: torch.nn.functional.cross_entropy(x @ w.t(), token_ids, reduction="sum").view(1),
        torch.ones(1), hidden, weight,
    )
    for g, w in zip(got, want):
        assert_close(g, w)


def test_gradcheck_float64():
    hidden, weight, token_ids, _ = make(5, 3, 11, dtype=torch.float64, ignored=(1,))
    inputs = [hidden.requires_grad_(), weight.requires_grad_()]
    assert linear_selected_logprobs(*inputs, token_ids).dtype == torch.float64
    assert torch.autograd.gradcheck(
        lambda x, w: linear_selected_logprobs(x, w, token_ids, temperature=0.8, chunk_size=2), inputs
    )


@CUDA
def test_bf16_on_cuda_matches_fp32_reference():
    hidden, weight, token_ids, grad_out = make(300, 64, 1000, dtype=torch.bfloat16, device="cuda", ignored=(7,))
    got = value_and_grads(
        lambda x, w: linear_selected_logprobs(x, w, token_ids, temperature=0.9, chunk_size=64),
        grad_out, hidden, weight,
    )
    want = value_and_grads(
        lambda x, w: reference(x, w, token_ids, 0.9)[0], grad_out, hidden.float(), weight.float()
    )
    # bf16 matmuls: errors of a few bf16 ulps (2^-8) relative to each tensor's scale.
    assert got[0].dtype == torch.float32 and got[1].dtype == got[2].dtype == torch.bfloat16
    for g, w in zip(got, want):
        assert_close(g.float(), w, atol=1e-2 * w.abs().max().item(), rtol=0)


@CUDA
def test_cuda_peak_memory_is_bounded_by_chunk_not_tokens():
    n, h, v, chunk = 8192, 256, 32000, 256
    hidden, weight, token_ids, grad_out = make(n, h, v, device="cuda")
    hidden.requires_grad_()
    weight.requires_grad_()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    linear_selected_logprobs(hidden, weight, token_ids, chunk_size=chunk).backward(grad_out)
    torch.cuda.synchronize()
    peak_extra = torch.cuda.max_memory_allocated() - before
    # A few [chunk, V] fp32 chunk tensors plus fp32 gradient buffers and the returned gradients.
    bound = 4 * chunk * v * 4 + 3 * (v * h * 4 + n * h * 4)
    assert bound < n * v * 4 / 2, "bound must sit well below the [N, V] fp32 logits"
    assert peak_extra < bound, f"peak extra {peak_extra / 2**20:.0f} MiB exceeds {bound / 2**20:.0f} MiB"
