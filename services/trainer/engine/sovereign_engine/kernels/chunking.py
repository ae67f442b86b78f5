"""Pieces shared by the chunked LM-head kernels: row selection, chunk logits, gradient accumulation."""

import torch

# 1024 rows x 151,936 vocab (Qwen3) x 4 bytes = 0.58 GiB of fp32 logits per chunk.
DEFAULT_CHUNK_SIZE = 1024


def compute_dtype(dtype):
    """Softmax math is in fp32 for bf16/fp16/fp32 inputs; fp64 stays fp64 so gradcheck sees exact math."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def check_head(hidden, weight, name="hidden"):
    if hidden.dim() != 2 or weight.dim() != 2 or hidden.shape[1] != weight.shape[1]:
        shapes = f"{tuple(hidden.shape)} and {tuple(weight.shape)}"
        raise ValueError(f"{name} must be [N, H] and weight [V, H] with the same H, got {shapes}")
    if hidden.dtype != weight.dtype:
        raise ValueError(f"{name} and weight must share a dtype, got {hidden.dtype} and {weight.dtype}")


def row_chunks(keep, chunk_size):
    """Indices of the contributing rows, split into chunks.

    Masked rows are dropped up front so they cost no matmul; finding them is the one host sync per call.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    rows = torch.nonzero(keep).squeeze(1)
    return rows, rows.split(chunk_size)


def chunk_logits(hidden_rows, weight, bias=None, temperature=1.0):
    """[c, V] logits in the compute dtype; the matmul itself stays in the input dtype (tensor cores for bf16)."""
    logits = hidden_rows @ weight.t() if bias is None else torch.addmm(bias, hidden_rows, weight.t())
    logits = logits.to(compute_dtype(weight.dtype))
    if temperature != 1.0:
        logits.div_(temperature)  # the matmul output is a fresh tensor, so in place is safe
    return logits


def new_grads(hidden, weight, bias, need_hidden, need_weight, need_bias):
    """Zeroed gradient buffers in the compute dtype (None where no gradient is wanted); masked rows stay zero."""
    dtype = compute_dtype(weight.dtype)

    def zeros(t, need):
        return torch.zeros(t.shape, dtype=dtype, device=t.device) if need and t is not None else None

    return zeros(hidden, need_hidden), zeros(weight, need_weight), zeros(bias, need_bias)


def accumulate(grads, rows, hidden_rows, weight, dlogits):
    """Add one chunk's d(loss)/d(logits) [c, V] into the (hidden, weight, bias) gradient buffers."""
    grad_hidden, grad_weight, grad_bias = grads
    d = dlogits.to(weight.dtype)
    if grad_hidden is not None:
        grad_hidden.index_copy_(0, rows, (d @ weight).to(grad_hidden.dtype))
    if grad_weight is not None:
        if d.dtype == grad_weight.dtype:
            grad_weight.addmm_(d.t(), hidden_rows)
        else:
            # bf16 matmul (fp32 accumulate inside), then summed over chunks in fp32.
            grad_weight.add_(d.t() @ hidden_rows)
    if grad_bias is not None:
        grad_bias.add_(dlogits.sum(0))


def scaled(grad, grad_output, dtype):
    """grad * grad_output cast to `dtype`, scaled in the compute dtype and without touching the stored
    gradient, so a second backward (retain_graph) sees it unchanged."""
    if grad is None:
        return None
    out = torch.empty(grad.shape, dtype=dtype, device=grad.device)
    return torch.mul(grad, grad_output.to(grad.dtype), out=out)
