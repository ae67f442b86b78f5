"""Chunked teacher-student divergences (full teacher head and top-K teacher) against materialised-logit references."""

import math

import pytest
import torch

from sovereign_engine.kernels import linear_divergence, linear_topk_divergence

# fp32 on CPU: kernel and reference differ in summation order and in how log M is formed.
ATOL, RTOL = 1e-5, 1e-5
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def kl(p, logp, logq):
    return (p * (logp - logq)).sum(-1)


def divergence(teacher_logp, student_logq, kind, beta):
    """Per-token divergence written directly from the definitions (probabilities, not log-space mixtures)."""
    p, q = teacher_logp.exp(), student_logq.exp()
    if kind == "forward_kl" or (kind == "jsd" and beta == 0):
        return kl(p, teacher_logp, student_logq)
    if kind == "reverse_kl" or (kind == "jsd" and beta == 1):
        return kl(q, student_logq, teacher_logp)
    log_m = torch.log(beta * p + (1 - beta) * q)
    return beta * kl(p, teacher_logp, log_m) + (1 - beta) * kl(q, student_logq, log_m)


def reduce(per_token, mask, reduction):
    per_token = per_token * mask
    return per_token.sum() / mask.sum().clamp(min=1) if reduction == "mean" else per_token.sum()


def reference(hidden, weight, teacher_hidden, teacher_weight, mask, kind="forward_kl", beta=0.5, temperature=1.0,
              reduction="mean"):
    student_logq = torch.log_softmax((hidden @ weight.t()).float() / temperature, dim=-1)
    teacher_logp = torch.log_softmax((teacher_hidden @ teacher_weight.t()).float() / temperature, dim=-1)
    return reduce(divergence(teacher_logp, student_logq, kind, beta), mask, reduction)


def topk_reference(hidden, weight, ids, logprobs, mask, kind="forward_kl", beta=0.5, reduction="mean"):
    student_logq = torch.log_softmax((hidden @ weight.t()).float(), dim=-1)
    q_top = student_logq.gather(1, ids)
    q_tail = torch.log1p(-q_top.exp().sum(-1, keepdim=True))
    p_top = logprobs.float().exp()
    total = p_top.sum(-1, keepdim=True)
    p = torch.cat([p_top / total.clamp(min=1), (1 - total).clamp(min=0)], dim=-1)
    teacher_logp = p.clamp(min=torch.finfo(p.dtype).tiny).log()
    return reduce(divergence(teacher_logp, torch.cat([q_top, q_tail], -1), kind, beta), mask, reduction)


def make(n, hs, ht, v, dtype=torch.float32, device="cpu", seed=0, masked=()):
    g = torch.Generator().manual_seed(seed)
    rand = lambda *shape, scale=1.0: (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(device, dtype)
    mask = torch.ones(n, dtype=torch.bool)
    mask[list(masked)] = False
    return rand(n, hs), rand(v, hs, scale=hs**-0.5), rand(n, ht), rand(v, ht, scale=2 * ht**-0.5), mask.to(device)


def make_topk(n, v, k, dtype=torch.float32, seed=1):
    """Top-K ids and log-probs of a random full teacher distribution: tail mass is what the K ids miss."""
    g = torch.Generator().manual_seed(seed)
    logp = torch.log_softmax(2 * torch.randn(n, v, generator=g, dtype=torch.float64), dim=-1)
    logprobs, ids = logp.topk(k, dim=-1)
    return ids, logprobs.to(dtype)


def value_and_grads(fn, *tensors):
    leaves = [t.detach().clone().requires_grad_() for t in tensors]
    value = fn(*leaves)
    value.backward()
    return value.detach(), [t.grad for t in leaves]


def assert_close(a, b, atol=ATOL, rtol=RTOL):
    torch.testing.assert_close(a, b, atol=atol, rtol=rtol)


def assert_matches(fn, ref, *tensors, atol=ATOL, rtol=RTOL):
    got, got_grads = value_and_grads(fn, *tensors)
    want, want_grads = value_and_grads(ref, *tensors)
    assert got.dtype == want.dtype
    assert_close(got, want, atol, rtol)
    for g, w in zip(got_grads, want_grads):
        assert g.dtype == w.dtype
        assert_close(g, w, atol, rtol)
    return got, got_grads


SHAPES = [
    (1, 3, 4, 37, 1, ()),  # single token
    (7, 5, 6, 37, 3, (2,)),  # N not divisible by chunk, odd student H, teacher H differs
    (10, 8, 8, 1000, 4, (0, 9)),
    (5, 7, 3, 1000, 64, (1,)),  # chunk larger than N
]
KINDS = [("forward_kl", 0.5), ("reverse_kl", 0.5), ("jsd", 0.5), ("jsd", 0.1), ("jsd", 0.0), ("jsd", 1.0)]


@pytest.mark.parametrize("n,hs,ht,v,chunk,masked", SHAPES)
@pytest.mark.parametrize("kind,beta", KINDS)
def test_full_teacher_matches_reference(n, hs, ht, v, chunk, masked, kind, beta):
    hidden, weight, t_hidden, t_weight, mask = make(n, hs, ht, v, masked=masked)
    _, grads = assert_matches(
        lambda x, w: linear_divergence(x, w, t_hidden, t_weight, mask, kind=kind, beta=beta, chunk_size=chunk),
        lambda x, w: reference(x, w, t_hidden, t_weight, mask, kind, beta),
        hidden, weight,
    )
    assert not grads[0][list(masked)].any()


@pytest.mark.parametrize("kind,beta", KINDS[:3])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_temperature_and_reduction(kind, beta, reduction):
    hidden, weight, t_hidden, t_weight, mask = make(9, 5, 4, 37, masked=(3, 4))
    assert_matches(
        lambda x, w: linear_divergence(
            x, w, t_hidden, t_weight, mask, kind=kind, beta=beta, temperature=1.7, reduction=reduction, chunk_size=2
        ),
        lambda x, w: reference(x, w, t_hidden, t_weight, mask, kind, beta, 1.7, reduction),
        hidden, weight,
    )


def test_jsd_limits_and_symmetry():
    # fp64 so the small-beta expansions are not drowned by rounding.
    hidden, weight, t_hidden, t_weight, mask = make(6, 5, 5, 37, dtype=torch.float64)
    div = lambda **kw: linear_divergence(hidden, weight, t_hidden, t_weight, mask, **kw)
    forward, reverse = div(kind="forward_kl"), div(kind="reverse_kl")
    assert div(kind="jsd", beta=0.0) == forward
    assert div(kind="jsd", beta=1.0) == reverse
    eps = 1e-5
    # The formula itself vanishes at the ends, linearly in beta (resp. 1 - beta), with these slopes.
    assert_close(div(kind="jsd", beta=eps) / eps, forward, atol=0, rtol=1e-3)
    assert_close(div(kind="jsd", beta=1 - eps) / eps, reverse, atol=0, rtol=1e-3)
    # beta = 0.5 is the symmetric Jensen-Shannon divergence, bounded by log 2.
    jsd = div(kind="jsd", beta=0.5)
    swapped = linear_divergence(t_hidden, t_weight, hidden, weight, mask, kind="jsd", beta=0.5)
    assert_close(jsd, swapped, atol=1e-12, rtol=1e-12)
    assert 0 < jsd < math.log(2)


def test_identical_teacher_gives_zero_divergence_and_gradient():
    hidden, weight, _, _, mask = make(5, 4, 4, 37)
    for kind in ("forward_kl", "reverse_kl", "jsd"):
        value, grads = value_and_grads(lambda x, w: linear_divergence(x, w, hidden, weight, mask, kind=kind), hidden,
                                       weight)
        assert abs(value.item()) < 1e-6
        for g in grads:
            assert g.abs().max() < 1e-6


def test_teacher_gets_no_gradient():
    hidden, weight, t_hidden, t_weight, mask = make(6, 4, 3, 37)
    t_hidden.requires_grad_()
    t_weight.requires_grad_()
    x, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    linear_divergence(x, w, t_hidden, t_weight, mask, kind="jsd", chunk_size=4).backward()
    assert t_hidden.grad is None and t_weight.grad is None
    _, want = value_and_grads(lambda x, w: reference(x, w, t_hidden.detach(), t_weight.detach(), mask, "jsd"),
                              hidden, weight)
    assert_close(x.grad, want[0])
    assert_close(w.grad, want[1])


def test_chunk_size_does_not_change_result():
    hidden, weight, t_hidden, t_weight, mask = make(11, 6, 5, 37, masked=(3,))
    ids, logprobs = make_topk(11, 37, 5)
    for fn in (
        lambda x, w, k: linear_divergence(x, w, t_hidden, t_weight, mask, kind="jsd", chunk_size=k),
        lambda x, w, k: linear_topk_divergence(x, w, ids, logprobs, mask, chunk_size=k),
    ):
        runs = [value_and_grads(lambda x, w: fn(x, w, k), hidden, weight) for k in (1, 2, 3, 11, 4096)]
        for value, grads in runs[1:]:
            assert_close(value, runs[0][0], atol=1e-6, rtol=1e-6)
            for g, g0 in zip(grads, runs[0][1]):
                assert_close(g, g0, atol=1e-6, rtol=1e-6)


def test_all_masked_gives_zero_loss_and_zero_grads():
    hidden, weight, t_hidden, t_weight, mask = make(4, 5, 5, 37, masked=range(4))
    ids, logprobs = make_topk(4, 37, 3)
    for fn in (
        lambda x, w: linear_divergence(x, w, t_hidden, t_weight, mask, kind="reverse_kl"),
        lambda x, w: linear_topk_divergence(x, w, ids, logprobs, mask),
    ):
        value, grads = value_and_grads(fn, hidden, weight)
        assert value.item() == 0.0
        for g in grads:
            assert torch.isfinite(g).all() and not g.any()


@pytest.mark.parametrize("n,hs,_ht,v,chunk,masked", SHAPES)
@pytest.mark.parametrize("kind,beta", KINDS)
@pytest.mark.parametrize("k", [1, 5])
def test_topk_matches_reference(n, hs, _ht, v, chunk, masked, kind, beta, k):
    hidden, weight, _, _, mask = make(n, hs, 1, v, masked=masked)
    ids, logprobs = make_topk(n, v, k)
    assert_matches(
        lambda x, w: linear_topk_divergence(x, w, ids, logprobs, mask, kind=kind, beta=beta, chunk_size=chunk),
        lambda x, w: topk_reference(x, w, ids, logprobs, mask, kind, beta),
        hidden, weight,
    )


@pytest.mark.parametrize("kind", ["forward_kl", "reverse_kl", "jsd"])
def test_topk_renormalises_excess_mass_and_stays_finite(kind):
    # Rounded server log-probs can sum past 1: they are renormalised and the tail bucket is empty.
    hidden, weight, _, _, mask = make(2 * 3, 4, 1, 37)
    ids = torch.tensor([[0, 1], [5, 2], [7, 8], [9, 3], [4, 6], [10, 11]]).view(2, 3, 2)
    logprobs = torch.log(torch.tensor([0.6, 0.6])).expand(2, 3, 2)
    value, grads = value_and_grads(
        lambda x, w: linear_topk_divergence(x.view(2, 3, 4), w, ids, logprobs, mask.view(2, 3), kind=kind),
        hidden, weight,
    )
    assert torch.isfinite(value) and all(torch.isfinite(g).all() for g in grads)
    if kind != "reverse_kl":
        # An empty teacher tail contributes nothing, so these match the [0.5, 0.5] two-bucket reference.
        want = topk_reference(hidden, weight, ids.view(6, 2), torch.log(torch.full((6, 2), 0.5)), mask, kind)
        assert_close(value, want)


def test_topk_tiny_student_tail_keeps_precision():
    # Student puts ~e^-60 on the tail: log(1 - sum top-K probs) would round to log(0) in fp32.
    v, k = 37, 4
    ids = torch.arange(k)[None].expand(3, k)
    weight = torch.zeros(v, 2)
    weight[:k, 0] = 60.0
    hidden = torch.tensor([[1.0, 0.0]] * 3)
    logprobs = torch.log(torch.tensor([0.2, 0.2, 0.2, 0.2])).expand(3, k)
    got = linear_topk_divergence(hidden, weight, ids, logprobs)
    tail_logq = math.log(v - k) - 60.0 - math.log(k)
    want = 4 * 0.2 * math.log(0.2 / 0.25) + 0.2 * (math.log(0.2) - tail_logq)
    assert math.isclose(got.item(), want, rel_tol=1e-5)


def test_gradcheck_float64():
    hidden, weight, t_hidden, t_weight, mask = make(5, 3, 4, 11, dtype=torch.float64, masked=(2,))
    ids, logprobs = make_topk(5, 11, 3, dtype=torch.float64)
    inputs = [hidden.requires_grad_(), weight.requires_grad_()]
    for kind, beta in KINDS[:4]:
        assert torch.autograd.gradcheck(
            lambda x, w: linear_divergence(
                x, w, t_hidden, t_weight, mask, kind=kind, beta=beta, temperature=1.3, chunk_size=2
            ),
            inputs,
        )
        assert torch.autograd.gradcheck(
            lambda x, w: linear_topk_divergence(x, w, ids, logprobs, mask, kind=kind, beta=beta, chunk_size=2),
            inputs,
        )


def test_rejects_bad_arguments():
    hidden, weight, t_hidden, t_weight, mask = make(4, 5, 5, 37)
    ids, logprobs = make_topk(4, 37, 3)
    with pytest.raises(ValueError):
        linear_divergence(hidden, weight, t_hidden, t_weight, mask, kind="kl")
    with pytest.raises(ValueError):
        linear_divergence(hidden, weight, t_hidden, t_weight, mask, kind="jsd", beta=1.5)
    with pytest.raises(ValueError):
        linear_divergence(hidden, weight, t_hidden, t_weight[:36], mask)
    with pytest.raises(ValueError):
        linear_divergence(hidden, weight, t_hidden, t_weight, mask[:3])
    with pytest.raises(ValueError):
        linear_topk_divergence(hidden, weight, torch.arange(37)[None].expand(4, 37), torch.zeros(4, 37), mask)


@CUDA
@pytest.mark.parametrize("kind", ["forward_kl", "jsd"])
def test_bf16_on_cuda_matches_fp32_reference(kind):
    hidden, weight, t_hidden, t_weight, mask = make(300, 64, 48, 1000, dtype=torch.bfloat16, device="cuda",
                                                    masked=(5,))
    ids, logprobs = make_topk(300, 1000, 8)
    ids, logprobs = ids.cuda(), logprobs.cuda()
    pairs = [
        (lambda x, w: linear_divergence(x, w, t_hidden, t_weight, mask, kind=kind, chunk_size=64),
         lambda x, w: reference(x, w, t_hidden.float(), t_weight.float(), mask, kind)),
        (lambda x, w: linear_topk_divergence(x, w, ids, logprobs, mask, kind=kind, chunk_size=64),
         lambda x, w: topk_reference(x, w, ids, logprobs, mask, kind)),
    ]
    for fn, ref in pairs:
        got, got_grads = value_and_grads(fn, hidden, weight)
        want, want_grads = value_and_grads(ref, hidden.float(), weight.float())
        # The matmuls round logits to bf16 (2^-9 relative); teacher logits reach ~8 here, which moves teacher
        # probabilities by up to ~1.6%, so gradients get 3% of their scale and the averaged loss 1%.
        assert_close(got, want, atol=1e-2 * want.abs().item(), rtol=0)
        for g, w in zip(got_grads, want_grads):
            assert g.dtype == torch.bfloat16
            assert_close(g.float(), w, atol=3e-2 * w.abs().max().item(), rtol=0)


@CUDA
def test_cuda_peak_memory_is_bounded_by_chunk_not_tokens():
    n, h, v, chunk = 8192, 256, 32000, 256
    hidden, weight, t_hidden, t_weight, mask = make(n, h, h, v, device="cuda")
    hidden.requires_grad_()
    weight.requires_grad_()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    linear_divergence(hidden, weight, t_hidden, t_weight, mask, kind="jsd", chunk_size=chunk).backward()
    torch.cuda.synchronize()
    peak_extra = torch.cuda.max_memory_allocated() - before
    # Student and teacher [chunk, V] fp32 tensors and their softmax terms, plus fp32 gradient buffers
    # and the returned gradients.
    bound = 8 * chunk * v * 4 + 3 * (v * h * 4 + n * h * 4)
    assert bound < n * v * 4 / 2, "bound must sit well below the [N, V] fp32 logits"
    assert peak_extra < bound, f"peak extra {peak_extra / 2**20:.0f} MiB exceeds {bound / 2**20:.0f} MiB"
