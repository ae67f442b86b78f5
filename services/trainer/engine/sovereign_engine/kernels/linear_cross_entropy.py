"""Cross-entropy of an LM head computed chunk by chunk, never materialising the [N, V] logits.

For hidden states h [N, H], head weight W [V, H] (optional bias b [V]) and labels y [N]:

    z_i   = W h_i + b                          logits of row i, fp32 (fp64 for fp64 inputs)
    l_i   = logsumexp(z_i) - z_i[y_i]          per-token loss, 0 where y_i == ignore_index
    loss  = sum_i l_i / n   (mean over the n non-ignored rows; 0 when n == 0)  or  sum_i l_i
    dl_i/dz_i = softmax(z_i) - onehot(y_i)

The forward pass walks the non-ignored rows in chunks of `chunk_size`: it builds the chunk's logits,
turns them into d(loss)/d(logits) in place, and immediately folds them into grad_h [N, H] and the fp32
accumulators grad_W [V, H] and grad_b [V]. Backward only multiplies those by grad_output. Extra memory is
O(chunk_size x V) for one chunk (fp32 logits plus their input-dtype copies) plus the gradient buffers,
never O(N x V). Gradients come back in the input dtypes; the loss is fp32 (fp64 for fp64 inputs).
"""

from typing import Optional, Tuple, Union

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .chunking import (
    DEFAULT_CHUNK_SIZE, accumulate, check_head, chunk_logits, compute_dtype, new_grads, row_chunks, scaled,
)


class LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, labels, ignore_index, reduction, chunk_size, grad_enabled):
        dtype = compute_dtype(weight.dtype)
        rows, chunks = row_chunks(labels != ignore_index, chunk_size)
        scale = 1.0 / max(rows.numel(), 1) if reduction == "mean" else 1.0
        need = [grad_enabled and n for n in ctx.needs_input_grad[:3]]
        grads = new_grads(hidden, weight, bias, *need)
        per_token = torch.zeros(labels.shape, dtype=dtype, device=hidden.device)
        for chunk in chunks:
            hidden_rows, target = hidden.index_select(0, chunk), labels.index_select(0, chunk)
            logits = chunk_logits(hidden_rows, weight, bias)
            lse = torch.logsumexp(logits, dim=-1)
            per_token.index_copy_(0, chunk, lse - logits.gather(1, target[:, None]).squeeze(1))
            if any(need):
                # softmax - onehot, built in place over the logits so a chunk holds one [c, V] fp32 tensor.
                dlogits = logits.sub_(lse[:, None]).exp_()
                dlogits[torch.arange(chunk.numel(), device=chunk.device), target] -= 1.0
                accumulate(grads, chunk, hidden_rows, weight, dlogits.mul_(scale))
        ctx.save_for_backward(*grads)
        ctx.input_dtypes = (hidden.dtype, weight.dtype, None if bias is None else bias.dtype)
        ctx.mark_non_differentiable(per_token)
        return per_token.sum() * scale, per_token

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss, grad_per_token):
        grad_hidden, grad_weight, grad_bias = (
            scaled(g, grad_loss, dt) for g, dt in zip(ctx.saved_tensors, ctx.input_dtypes)
        )
        return grad_hidden, grad_weight, grad_bias, None, None, None, None, None


def linear_cross_entropy(
    hidden: Tensor,
    weight: Tensor,
    labels: Tensor,
    *,
    bias: Optional[Tensor] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    return_per_token: bool = False,
) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """Cross-entropy of `hidden @ weight.T (+ bias)` against `labels`, chunked over tokens.

    hidden [..., H] and labels [...] are flattened together; labels are already aligned with the rows
    (shift before calling). reduction is "mean" (over non-ignored tokens, 0 if there are none) or "sum".
    With return_per_token=True also returns the per-token losses (shape of labels, no gradient, 0 at
    ignored tokens) for metrics.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    flat_hidden = hidden.reshape(-1, hidden.shape[-1])
    check_head(flat_hidden, weight)
    if labels.numel() != flat_hidden.shape[0]:
        raise ValueError(f"labels has {labels.numel()} tokens, hidden has {flat_hidden.shape[0]}")
    loss, per_token = LinearCrossEntropy.apply(
        flat_hidden, weight, bias, labels.reshape(-1), ignore_index, reduction, chunk_size, torch.is_grad_enabled()
    )
    return (loss, per_token.view(labels.shape)) if return_per_token else loss
