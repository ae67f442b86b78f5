"""Teacher-student divergences of LM heads (distillation), chunked over tokens.

Per token, with teacher distribution P (constant, no gradient) and student distribution Q:

    forward_kl   KL(P || Q) = sum_v P_v (log P_v - log Q_v)
    reverse_kl   KL(Q || P) = sum_v Q_v (log Q_v - log P_v)
    jsd          JSD_beta   = beta KL(P || M) + (1 - beta) KL(Q || M),   M = beta P + (1 - beta) Q

the generalized JSD of TRL's GKD and Liger-Kernel. The formula vanishes at both ends (JSD_beta ~ beta KL(P||Q)
as beta -> 0 and ~ (1 - beta) KL(Q||P) as beta -> 1), so, as in TRL and Liger, beta = 0 is defined to be
forward_kl and beta = 1 reverse_kl; beta = 0.5 is the symmetric Jensen-Shannon divergence.
The loss is the mean over unmasked tokens (0 if none) or the sum.

Two teachers:
  * linear_divergence: a full teacher head, P = softmax(W_t h_t / T) and Q = softmax(W_s h_s / T). No T^2
    factor is applied (as in TRL's GKD).
  * linear_topk_divergence: the teacher as served by an inference server, its top-K token ids and
    log-probs. The divergence is taken over K + 1 buckets: the K ids and a tail bucket holding everything
    else. Teacher bucket masses are exp(logprob) (divided by their sum if it exceeds 1 through rounding)
    and tail = max(0, 1 - sum). Student bucket log-masses are log Q at the K ids and
    logsumexp(z over the other V - K ids) - logsumexp(z), computed from masked logits so a tiny tail
    keeps its precision. Teacher log-masses are floored at the smallest normal float, so a zero-mass
    teacher bucket costs reverse_kl about 87 nats (fp32) instead of infinity.

Gradients go to the student hidden states and weight only. With G_b = d loss / d log Q_b over buckets b
and S = sum_b G_b, the gradient w.r.t. student logit z_j in bucket b(j) is Q_j / Q_b(j) * G_b(j) - Q_j S
(for full vocab every bucket is one token, so it is G_j - Q_j S). As in the cross-entropy kernel the
forward pass folds it chunk by chunk into grad_h and an fp32 grad_W, and backward only scales them.
Extra memory is a few [chunk_size, V] fp32 tensors (student and teacher logits and their softmax terms;
up to about 7 for jsd) plus the gradient buffers, never O(N x V).
"""

import math
from typing import Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .chunking import (
    DEFAULT_CHUNK_SIZE, accumulate, check_head, chunk_logits, compute_dtype, new_grads, row_chunks, scaled,
)

KINDS = ("forward_kl", "reverse_kl", "jsd")


def bucket_divergence(teacher_logp, student_logq, kind, beta):
    """Per-row divergence [c] between distributions given as log-masses [c, B], and G = d div / d log Q [c, B].

    Written to keep few [c, B] temporaries alive: B is the whole vocabulary for a full teacher.
    """
    if kind == "forward_kl":
        p = teacher_logp.exp()
        return (teacher_logp - student_logq).mul_(p).sum(-1), p.neg_()
    q = student_logq.exp()
    if kind == "reverse_kl":
        log_ratio = student_logq - teacher_logp
        div = (q * log_ratio).sum(-1)
        return div, log_ratio.add_(1.0).mul_(q)
    log_m = torch.logaddexp(teacher_logp + math.log(beta), student_logq + math.log1p(-beta))
    teacher_term = (teacher_logp - log_m).mul_(teacher_logp.exp()).sum(-1)
    student_term = log_m.neg_().add_(student_logq)
    div = beta * teacher_term + (1.0 - beta) * (q * student_term).sum(-1)
    # d/dQ of the whole JSD is (1 - beta) log(Q / M): the terms through M cancel.
    return div, student_term.mul_(q).mul_(1.0 - beta)


def resolve_kind(kind, beta):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "jsd" and not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    if kind == "jsd" and beta == 0.0:
        return "forward_kl"
    if kind == "jsd" and beta == 1.0:
        return "reverse_kl"
    return kind


def flat_mask(mask, n, device):
    if mask is None:
        return torch.ones(n, dtype=torch.bool, device=device)
    if mask.numel() != n:
        raise ValueError(f"mask has {mask.numel()} tokens, hidden has {n}")
    return mask.reshape(-1).bool()


class LinearDivergence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, teacher, mask, kind, beta, temperature, reduction, chunk_size, grad_enabled):
        dtype = compute_dtype(weight.dtype)
        rows, chunks = row_chunks(mask, chunk_size)
        scale = 1.0 / max(rows.numel(), 1) if reduction == "mean" else 1.0
        need = [grad_enabled and n for n in ctx.needs_input_grad[:2]]
        grads = new_grads(hidden, weight, None, *need, False)
        total = torch.zeros((), dtype=dtype, device=hidden.device)
        for chunk in chunks:
            hidden_rows = hidden.index_select(0, chunk)
            logits = chunk_logits(hidden_rows, weight, temperature=temperature)
            div, dlogits = teacher.divergence(chunk, logits, kind, beta)
            total += div.sum()
            if any(need):
                # The 1 / temperature is the chain rule through logits = W h / T.
                accumulate(grads, chunk, hidden_rows, weight, dlogits.mul_(scale / temperature))
        ctx.save_for_backward(*grads[:2])
        ctx.input_dtypes = (hidden.dtype, weight.dtype)
        return total * scale

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss):
        grad_hidden, grad_weight = (scaled(g, grad_loss, dt) for g, dt in zip(ctx.saved_tensors, ctx.input_dtypes))
        return (grad_hidden, grad_weight) + (None,) * 8


class FullTeacher:
    """Teacher given as its own head: its chunk logits are recomputed alongside the student's."""

    def __init__(self, hidden, weight, temperature):
        self.hidden, self.weight, self.temperature = hidden.detach(), weight.detach(), temperature

    def divergence(self, chunk, logits, kind, beta):
        """Per-row divergence and d div / d logits for one chunk; overwrites `logits`."""
        teacher_logp = chunk_logits(self.hidden.index_select(0, chunk), self.weight, temperature=self.temperature)
        teacher_logp = teacher_logp.to(logits.dtype)
        teacher_logp -= torch.logsumexp(teacher_logp, dim=-1, keepdim=True)
        student_logq = logits.sub_(torch.logsumexp(logits, dim=-1, keepdim=True))
        div, g = bucket_divergence(teacher_logp, student_logq, kind, beta)
        del teacher_logp
        return div, g.sub_(student_logq.exp_().mul_(g.sum(-1, keepdim=True)))


class TopKTeacher:
    """Teacher given as top-K ids and log-probs per token; divergence over the K ids plus a tail bucket."""

    def __init__(self, ids, logprobs):
        self.ids, self.logprobs = ids, logprobs.detach()

    def divergence(self, chunk, logits, kind, beta):
        """Per-row divergence and d div / d logits for one chunk."""
        ids = self.ids.index_select(0, chunk)
        p_top = self.logprobs.index_select(0, chunk).to(logits.dtype).exp()
        total = p_top.sum(-1, keepdim=True)
        teacher_p = torch.cat([p_top / total.clamp(min=1.0), (1.0 - total).clamp(min=0.0)], dim=-1)
        teacher_logp = teacher_p.clamp(min=torch.finfo(logits.dtype).tiny).log()

        lse = torch.logsumexp(logits, dim=-1, keepdim=True)
        tail_logits = logits.scatter(1, ids, float("-inf"))
        lse_tail = torch.logsumexp(tail_logits, dim=-1, keepdim=True)
        student_logq = torch.cat([logits.gather(1, ids) - lse, lse_tail - lse], dim=-1)
        div, g = bucket_divergence(teacher_logp, student_logq, kind, beta)
        g_sum = g.sum(-1, keepdim=True)
        # Tail tokens get Q_j / Q_tail * G_tail - Q_j S (Q_j / Q_tail is 0 at the K ids, which are then set
        # to G_k - Q_k S).
        dlogits = tail_logits.sub_(lse_tail).exp_().mul_(g[:, -1:])
        dlogits.sub_(logits.sub_(lse).exp_().mul_(g_sum))
        dlogits.scatter_(1, ids, g[:, :-1] - student_logq[:, :-1].exp() * g_sum)
        return div, dlogits


def linear_divergence(
    student_hidden: Tensor,
    student_weight: Tensor,
    teacher_hidden: Tensor,
    teacher_weight: Tensor,
    mask: Optional[Tensor] = None,
    *,
    kind: str = "forward_kl",
    beta: float = 0.5,
    temperature: float = 1.0,
    reduction: str = "mean",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Tensor:
    """Divergence between the student head softmax(W_s h_s / T) and the teacher's softmax(W_t h_t / T).

    student_hidden [..., Hs] with student_weight [V, Hs]; teacher_hidden [..., Ht] with teacher_weight
    [V, Ht] (the teacher is detached). mask [...] bool, True for tokens that count (e.g. labels != -100);
    None counts every token. kind is "forward_kl" (KL(teacher || student)), "reverse_kl" or "jsd" with
    `beta` (see the module docstring). Returns a scalar, fp32 (fp64 for fp64 inputs).
    """
    hidden = student_hidden.reshape(-1, student_hidden.shape[-1])
    t_hidden = teacher_hidden.reshape(-1, teacher_hidden.shape[-1])
    check_head(hidden, student_weight, "student_hidden")
    check_head(t_hidden, teacher_weight, "teacher_hidden")
    if t_hidden.shape[0] != hidden.shape[0] or teacher_weight.shape[0] != student_weight.shape[0]:
        raise ValueError("teacher and student must have the same tokens and vocabulary")
    teacher = FullTeacher(t_hidden, teacher_weight, temperature)
    return _apply(hidden, student_weight, teacher, mask, kind, beta, temperature, reduction, chunk_size)


def linear_topk_divergence(
    student_hidden: Tensor,
    student_weight: Tensor,
    teacher_topk_ids: Tensor,
    teacher_topk_logprobs: Tensor,
    mask: Optional[Tensor] = None,
    *,
    kind: str = "forward_kl",
    beta: float = 0.5,
    reduction: str = "mean",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Tensor:
    """Divergence between the student head softmax(W_s h_s) and a teacher known by its top-K.

    teacher_topk_ids [..., K] int64 (distinct ids per token, K < V) and teacher_topk_logprobs [..., K]
    are the teacher's log-probabilities at those ids, used as given (any sampling temperature is already
    in them). The divergence is over the K ids plus one tail bucket (see the module docstring). mask, kind,
    beta and reduction are as in linear_divergence.
    """
    hidden = student_hidden.reshape(-1, student_hidden.shape[-1])
    check_head(hidden, student_weight, "student_hidden")
    k = teacher_topk_ids.shape[-1]
    ids, logprobs = teacher_topk_ids.reshape(-1, k), teacher_topk_logprobs.reshape(-1, k)
    if ids.shape != logprobs.shape or ids.shape[0] != hidden.shape[0]:
        raise ValueError("teacher_topk_ids and teacher_topk_logprobs must be [N, K] for the N student tokens")
    if not 0 < k < student_weight.shape[0]:
        raise ValueError(f"need 0 < K < V, got K={k}, V={student_weight.shape[0]}")
    teacher = TopKTeacher(ids, logprobs)
    return _apply(hidden, student_weight, teacher, mask, kind, beta, 1.0, reduction, chunk_size)


def _apply(hidden, weight, teacher, mask, kind, beta, temperature, reduction, chunk_size):
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    keep = flat_mask(mask, hidden.shape[0], hidden.device)
    return LinearDivergence.apply(
        hidden, weight, teacher, keep, resolve_kind(kind, beta), beta, temperature, reduction, chunk_size,
        torch.is_grad_enabled(),
    )
