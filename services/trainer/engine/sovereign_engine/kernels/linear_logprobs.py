"""Per-token log-probabilities of chosen tokens under an LM head (GRPO ratios), chunked over tokens.

For hidden states h [N, H], head weight W [V, H], token ids y [N] and temperature T:

    z_i       = (W h_i) / T                    fp32 (fp64 for fp64 inputs)
    logp_i    = z_i[y_i] - logsumexp(z_i)      0 where y_i == ignore_index
    entropy_i = logsumexp(z_i) - sum_v softmax(z_i)_v z_iv     (optional, no gradient)
    d logp_i / d z_i = onehot(y_i) - softmax(z_i)

The output is a vector, so the gradient depends on the per-token grad_output g [N] that only backward
sees: forward keeps logsumexp(z_i) [N], and backward recomputes each chunk's logits (one extra matmul per
chunk) to form g_i (onehot - softmax) / T and fold it into grad_h and the fp32 accumulator grad_W.
Extra memory is O(chunk_size x V) plus the gradient buffers, never O(N x V).
"""

from typing import Tuple, Union

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .chunking import DEFAULT_CHUNK_SIZE, accumulate, check_head, chunk_logits, compute_dtype, new_grads, row_chunks


class LinearSelectedLogprobs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, token_ids, temperature, ignore_index, chunk_size, with_entropy):
        dtype = compute_dtype(weight.dtype)
        rows, chunks = row_chunks(token_ids != ignore_index, chunk_size)
        logprobs = torch.zeros(token_ids.shape, dtype=dtype, device=hidden.device)
        lse_rows = torch.empty(rows.shape, dtype=dtype, device=hidden.device)
        entropy = torch.zeros(token_ids.shape if with_entropy else (0,), dtype=dtype, device=hidden.device)
        start = 0
        for chunk in chunks:
            logits = chunk_logits(hidden.index_select(0, chunk), weight, temperature=temperature)
            lse = torch.logsumexp(logits, dim=-1)
            lse_rows[start : start + chunk.numel()] = lse
            start += chunk.numel()
            target = token_ids.index_select(0, chunk)
            logprobs.index_copy_(0, chunk, logits.gather(1, target[:, None]).squeeze(1) - lse)
            if with_entropy:
                probs = torch.exp(logits - lse[:, None])
                entropy.index_copy_(0, chunk, lse - (probs * logits).sum(-1))
        ctx.save_for_backward(hidden, weight, token_ids, rows, lse_rows)
        ctx.temperature, ctx.chunk_size = temperature, chunk_size
        ctx.mark_non_differentiable(entropy)
        return logprobs, entropy

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_logprobs, grad_entropy):
        hidden, weight, token_ids, rows, lse_rows = ctx.saved_tensors
        need_hidden, need_weight = ctx.needs_input_grad[:2]
        grads = new_grads(hidden, weight, None, need_hidden, need_weight, False)
        start = 0
        for chunk in rows.split(ctx.chunk_size):
            hidden_rows = hidden.index_select(0, chunk)
            logits = chunk_logits(hidden_rows, weight, temperature=ctx.temperature)
            lse = lse_rows[start : start + chunk.numel()]
            start += chunk.numel()
            g = grad_logprobs.index_select(0, chunk).to(logits.dtype) / ctx.temperature
            # g (onehot - softmax), in place over the recomputed logits.
            dlogits = logits.sub_(lse[:, None]).exp_().mul_(-g[:, None])
            dlogits[torch.arange(chunk.numel(), device=chunk.device), token_ids.index_select(0, chunk)] += g
            accumulate(grads, chunk, hidden_rows, weight, dlogits)
        grad_hidden, grad_weight, _ = grads
        return (
            None if grad_hidden is None else grad_hidden.to(hidden.dtype),
            None if grad_weight is None else grad_weight.to(weight.dtype),
            None,
            None,
            None,
            None,
            None,
        )


def linear_selected_logprobs(
    hidden: Tensor,
    weight: Tensor,
    token_ids: Tensor,
    *,
    temperature: float = 1.0,
    ignore_index: int = -100,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    return_entropy: bool = False,
) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """log softmax(hidden @ weight.T / temperature) at `token_ids`, per token, differentiable.

    hidden [..., H] and token_ids [...] are flattened together; the result has the shape of token_ids and
    dtype fp32 (fp64 for fp64 inputs), 0 where token_ids == ignore_index. With return_entropy=True also
    returns the per-token entropy of the same distribution (no gradient, 0 at ignored tokens).
    """
    flat_hidden = hidden.reshape(-1, hidden.shape[-1])
    check_head(flat_hidden, weight)
    if token_ids.numel() != flat_hidden.shape[0]:
        raise ValueError(f"token_ids has {token_ids.numel()} tokens, hidden has {flat_hidden.shape[0]}")
    logprobs, entropy = LinearSelectedLogprobs.apply(
        flat_hidden, weight, token_ids.reshape(-1), temperature, ignore_index, chunk_size, return_entropy
    )
    logprobs = logprobs.view(token_ids.shape)
    return (logprobs, entropy.view(token_ids.shape)) if return_entropy else logprobs
