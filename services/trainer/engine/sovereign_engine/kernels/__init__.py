"""Chunked fused LM-head losses (cross-entropy, distillation divergences, selected log-probs) without [N, V] logits."""

from .chunking import DEFAULT_CHUNK_SIZE
from .linear_cross_entropy import linear_cross_entropy
from .linear_divergence import linear_divergence, linear_topk_divergence
from .linear_logprobs import linear_selected_logprobs

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "linear_cross_entropy",
    "linear_divergence",
    "linear_selected_logprobs",
    "linear_topk_divergence",
]
