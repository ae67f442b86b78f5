"""Chunked linear cross-entropy against F.cross_entropy on materialised logits: values, gradients, memory."""

import pytest
import torch
import torch.nn.functional as F

from sovereign_engine.kernels import linear_cross_entropy

# fp32 on CPU: kernel and reference differ only in summation order.
ATOL, RTOL = 1e-5, 1e-5
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def reference(hidden, weight, labels, bias=None, ignore_index=-100, reduction="mean"):
    logits = hidden @ weight.t() + (0 if bias is None else bias)
    per_token = F.cross_entropy(logits.float(), labels, ignore_index=ignore_index, reduction="none")
    n = (labels != ignore_index).sum().clamp(min=1)
    return per_token.sum() / n if reduction == "mean" else per_token.sum()


def value_and_grads(fn, *tensors):
    leaves = [None if t is None else t.detach().clone().requires_grad_() for t in tensors]
    value = fn(*leaves)
    value.backward()
    return value.detach(), [None if t is None else t.grad for t in leaves]


def make(n, h, v, dtype=torch.float32, device="cpu", seed=0, bias=False, ignored=()):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, h, generator=g, dtype=torch.float64)
    weight = torch.randn(v, h, generator=g, dtype=torch.float64) / h**0.5
    b = torch.randn(v, generator=g, dtype=torch.float64) if bias else None
    labels = torch.randint(0, v, (n,), generator=g)
    labels[list(ignored)] = -100
    cast = lambda t: None if t is None else t.to(device=device, dtype=dtype)
    return cast(hidden), cast(weight), labels.to(device), cast(b)


def assert_close(a, b, atol=ATOL, rtol=RTOL):
    torch.testing.assert_close(a, b, atol=atol, rtol=rtol)


@pytest.mark.parametrize(
    "n,h,v,chunk,ignored",
    [
        (1, 3, 37, 1, ()),  # single token
        (7, 5, 37, 3, (2,)),  # N not divisible by chunk, H odd
        (10, 8, 1000, 4, (0, 9)),
        (5, 7, 1000, 64, (1, 3)),  # chunk larger than N
        (13, 9, 37, 1, (0, 4, 12)),
    ],
)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("bias", [False, True])
def test_matches_reference(n, h, v, chunk, ignored, reduction, bias):
    hidden, weight, labels, b = make(n, h, v, bias=bias, ignored=ignored)
    got, got_grads = value_and_grads(
        lambda x, w, c: linear_cross_entropy(x, w, labels, bias=c, reduction=reduction, chunk_size=chunk),
        hidden, weight, b,
    )
    want, want_grads = value_and_grads(
        lambda x, w, c: reference(x, w, labels, bias=c, reduction=reduction), hidden, weight, b
    )
    assert got.dtype == torch.float32
    assert_close(got, want)
    for g, w in zip(got_grads, want_grads):
        assert (g is None) == (w is None)
        if g is not None:
            assert g.dtype == torch.float32
            assert_close(g, w)
    assert not got_grads[0][list(ignored)].any()


def test_chunk_size_does_not_change_result():
    hidden, weight, labels, b = make(11, 6, 37, bias=True, ignored=(3,))
    runs = [
        value_and_grads(lambda x, w, c: linear_cross_entropy(x, w, labels, bias=c, chunk_size=k), hidden, weight, b)
        for k in (1, 2, 3, 11, 4096)
    ]
    for value, grads in runs[1:]:
        assert_close(value, runs[0][0], atol=1e-6, rtol=1e-6)
        for g, g0 in zip(grads, runs[0][1]):
            assert_close(g, g0, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_all_ignored_gives_zero_loss_and_zero_grads(reduction):
    hidden, weight, labels, b = make(6, 5, 37, bias=True, ignored=range(6))
    value, grads = value_and_grads(
        lambda x, w, c: linear_cross_entropy(x, w, labels, bias=c, reduction=reduction, chunk_size=4),
        hidden, weight, b,
    )
    assert value.item() == 0.0
    for g in grads:
        assert torch.isfinite(g).all() and not g.any()


def test_custom_ignore_index_and_batched_shape():
    hidden, weight, labels, _ = make(12, 5, 37)
    labels[[1, 7]] = 0
    got, got_grads = value_and_grads(
        lambda x, w: linear_cross_entropy(x.view(3, 4, 5), w, labels.view(3, 4), ignore_index=0, chunk_size=5),
        hidden, weight,
    )
    want, want_grads = value_and_grads(lambda x, w: reference(x, w, labels, ignore_index=0), hidden, weight)
    assert_close(got, want)
    for g, w in zip(got_grads, want_grads):
        assert_close(g, w)


def test_per_token_losses():
    hidden, weight, labels, _ = make(2 * 5, 4, 37, ignored=(3,))
    loss, per_token = linear_cross_entropy(
        hidden.view(2, 5, 4), weight, labels.view(2, 5), chunk_size=3, return_per_token=True
    )
    want = F.cross_entropy(hidden @ weight.t(), labels, reduction="none").view(2, 5)
    assert per_token.shape == (2, 5) and not per_token.requires_grad
    assert_close(per_token, want)
    assert_close(loss, want.sum() / 9)


def test_grad_output_scales_and_backward_can_repeat():
    hidden, weight, labels, _ = make(9, 5, 37, ignored=(0,))
    _, want = value_and_grads(lambda x, w: 2.5 * reference(x, w, labels), hidden, weight)
    x, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    loss = 2.5 * linear_cross_entropy(x, w, labels, chunk_size=2)
    loss.backward(retain_graph=True)
    loss.backward()
    assert_close(x.grad, 2 * want[0])
    assert_close(w.grad, 2 * want[1])


def test_only_weight_requires_grad():
    hidden, weight, labels, _ = make(8, 5, 37)
    w = weight.clone().requires_grad_()
    linear_cross_entropy(hidden, w, labels, chunk_size=3).backward()
    _, want = value_and_grads(lambda x, w: reference(x, w, labels), hidden, weight)
    assert_close(w.grad, want[1])


def test_no_grad_gives_value_without_graph():
    hidden, weight, labels, _ = make(8, 5, 37, ignored=(1,))
    w = weight.clone().requires_grad_()
    with torch.no_grad():
        loss = linear_cross_entropy(hidden, w, labels, chunk_size=3)
    assert loss.grad_fn is None
    assert_close(loss, reference(hidden, weight, labels))


def test_gradcheck_float64():
    hidden, weight, labels, b = make(5, 3, 11, dtype=torch.float64, bias=True, ignored=(2,))
    inputs = [t.requires_grad_() for t in (hidden, weight, b)]
    assert linear_cross_entropy(*inputs[:2], labels, bias=inputs[2]).dtype == torch.float64
    assert torch.autograd.gradcheck(
        lambda x, w, c: linear_cross_entropy(x, w, labels, bias=c, chunk_size=2), inputs
    )


def test_rejects_bad_arguments():
    hidden, weight, labels, _ = make(4, 5, 37)
    with pytest.raises(ValueError):
        linear_cross_entropy(hidden, weight, labels, reduction="none")
    with pytest.raises(ValueError):
        linear_cross_entropy(hidden, weight, labels, chunk_size=0)
    with pytest.raises(ValueError):
        linear_cross_entropy(hidden, weight.double(), labels)
    with pytest.raises(ValueError):
        linear_cross_entropy(hidden, weight, labels[:3])


@CUDA
def test_bf16_on_cuda_matches_fp32_reference():
    hidden, weight, labels, b = make(300, 64, 1000, dtype=torch.bfloat16, device="cuda", bias=True, ignored=(5, 17))
    got, got_grads = value_and_grads(
        lambda x, w, c: linear_cross_entropy(x, w, labels, bias=c, chunk_size=64), hidden, weight, b
    )
    want, want_grads = value_and_grads(
        lambda x, w, c: reference(x, w, labels, bias=c), hidden.float(), weight.float(), b.float()
    )
    # bf16 matmuls: errors of a few bf16 ulps (2^-8) relative to each tensor's scale.
    assert_close(got, want, atol=1e-2 * want.abs().item(), rtol=0)
    for g, w in zip(got_grads, want_grads):
        assert g.dtype == torch.bfloat16
        assert_close(g.float(), w, atol=1e-2 * w.abs().max().item(), rtol=0)


@CUDA
def test_cuda_peak_memory_is_bounded_by_chunk_not_tokens():
    n, h, v, chunk = 8192, 256, 32000, 256
    hidden, weight, labels, _ = make(n, h, v, device="cuda")
    hidden.requires_grad_()
    weight.requires_grad_()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    linear_cross_entropy(hidden, weight, labels, chunk_size=chunk).backward()
    torch.cuda.synchronize()
    peak_extra = torch.cuda.max_memory_allocated() - before
    # A few [chunk, V] fp32 chunk tensors plus fp32 gradient buffers and the returned gradients.
    bound = 4 * chunk * v * 4 + 3 * (v * h * 4 + n * h * 4)
    assert bound < n * v * 4 / 2, "bound must sit well below the [N, V] fp32 logits"
    assert peak_extra < bound, f"peak extra {peak_extra / 2**20:.0f} MiB exceeds {bound / 2**20:.0f} MiB"
