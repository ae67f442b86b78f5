"""Batched autoregressive sampling from a CausalLM with transformers' KV cache: temperature, top-p, stop tokens.

Prompts are left-padded so that every row's next token sits in the same column: each step passes the 2-D mask of
real tokens so far and position ids counting real tokens only, so a padded row computes what it would alone.

Each row draws from a generator of its own, seeded per prompt: one uniform number per generated token, turned into
a token by the inverse of the row's cumulative distribution. A completion then depends on its prompt and seed (and
the model), not on which other prompts share its batch, which rank decodes it or how many ranks there are.
"""

from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence

import torch
from transformers import DynamicCache

from .models import CausalLM


@dataclass
class Completion:
    tokens: List[int]  # generated ids, the stop token included when one ended the row
    logprobs: List[float]  # per token, under the distribution it was drawn from (greedy: the model's own)
    finish_reason: str  # "stop" | "length"


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Logits outside the nucleus set to -inf: the smallest set of most likely tokens whose probability reaches top_p.

    The most likely token is always kept.
    """
    if top_p >= 1.0:
        return logits
    probs, order = logits.softmax(-1).sort(-1, descending=True)
    cumulative = probs.cumsum(-1)
    before = torch.cat((torch.zeros_like(cumulative[..., :1]), cumulative[..., :-1]), -1)  # mass ranked above
    drop_sorted = before >= top_p
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def _choose(logits: torch.Tensor, temperature: float, top_p: float, uniforms: torch.Tensor):
    """Next token [B] and its log-prob [B] from logits [B, V], row i drawn with uniforms[i] in [0, 1)."""
    if temperature == 0:
        # A greedy pick has probability 1 under its own rule; the model's untempered log-prob says more.
        token = logits.argmax(-1)
        return token, logits.log_softmax(-1).gather(-1, token[:, None])[:, 0]
    logprobs = top_p_filter(logits / temperature, top_p).log_softmax(-1)
    probs = logprobs.exp()
    # The first token whose cumulative probability exceeds u times the total: a token without mass adds nothing
    # to the sum, so it is never the first to exceed it. Rounding can put u x total at the total itself; the last
    # token with mass takes that case.
    cumulative = probs.double().cumsum(-1)
    token = torch.searchsorted(cumulative, uniforms[:, None].double() * cumulative[:, -1:], right=True)[:, 0]
    last = probs.shape[-1] - 1 - (probs > 0).flip(-1).int().argmax(-1)
    token = torch.minimum(token, last)
    return token, logprobs.gather(-1, token[:, None])[:, 0]


def row_seeds(count: int, generator: Optional[torch.Generator] = None) -> List[int]:
    """count seeds drawn from generator (default: torch's global one)."""
    return torch.randint(0, 2**62, (count,), generator=generator).tolist()


class RolloutCache(DynamicCache):
    """transformers' DynamicCache holding keys and values in one dtype, the compute dtype, whatever dtype the
    layers hand it: with fp32 master weights under bf16 autocast, QK-norm and rotary embeddings give fp32 keys,
    which would otherwise double the cache."""

    def __init__(self, dtype: torch.dtype, **kwargs):
        super().__init__(**kwargs)
        self.dtype = dtype

    def update(self, key_states, value_states, layer_idx, *args, **kwargs):
        return super().update(key_states.to(self.dtype), value_states.to(self.dtype), layer_idx, *args, **kwargs)


def compute_dtype(weight: torch.Tensor) -> torch.dtype:
    """The dtype forwards compute in: autocast's where it is on for the weight's device, else the weight's own."""
    device = weight.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else weight.dtype


@torch.no_grad()
def sample(
    model: CausalLM,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    stop_ids: Iterable[int] = (),
    seeds: Optional[Sequence[int]] = None,
    seed: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
    pad_id: int = 0,
    vocab_limit: Optional[int] = None,
) -> List[Completion]:
    """One completion per prompt. Prompts are left-padded with pad_id and decoded together, the KV cache in the
    compute dtype (compute_dtype).

    temperature 0 is greedy; otherwise logits are divided by it and, with top_p < 1, cut to the nucleus, and the
    log-probs are those of this final distribution. A row stops at its first stop id or after max_new_tokens.
    Row i draws from a generator seeded with seeds[i]; without seeds, the rows' seeds are drawn from `generator`,
    else from a generator seeded with `seed`, else from torch's global one.
    With vocab_limit, ids from vocab_limit on are never drawn: a checkpoint's embedding rows past its tokenizer's
    vocabulary (Qwen3: 151,936 rows, 151,669 tokens) are padding that decodes to nothing.
    """
    if any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    if vocab_limit is not None and vocab_limit < 1:
        raise ValueError(f"vocab_limit must be at least 1, got {vocab_limit}")
    if not prompts or max_new_tokens <= 0:
        return [Completion([], [], "length") for _ in prompts]
    if seeds is not None and len(seeds) != len(prompts):
        raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
    weight = model.lm_head_weight()
    device = weight.device
    if seeds is None:
        if generator is None and seed is not None:
            generator = torch.Generator().manual_seed(seed)
        seeds = row_seeds(len(prompts), generator)
    # Drawn on the CPU up front, one row at a time: the same numbers whatever the device and the batch.
    uniforms = torch.stack([
        torch.rand(max_new_tokens, generator=torch.Generator().manual_seed(int(s)), dtype=torch.float64)
        for s in seeds
    ]).to(device)
    B, L = len(prompts), max(len(p) for p in prompts)
    ids = torch.full((B, L), pad_id, dtype=torch.long)
    mask = torch.zeros(B, L, dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, L - len(p) :] = torch.tensor(list(p), dtype=torch.long)
        mask[i, L - len(p) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    stop = torch.tensor(sorted(set(stop_ids)), dtype=torch.long, device=device)
    cache = RolloutCache(compute_dtype(weight), config=model.config)
    positions = (mask.cumsum(-1) - 1).clamp_min(0)

    tokens, logprobs = [], []
    done = torch.zeros(B, dtype=torch.bool, device=device)
    emitted = torch.zeros(B, dtype=torch.long, device=device)
    for t in range(max_new_tokens):
        hidden = model(ids, positions, attention_mask=mask, past_key_values=cache)[:, -1]
        logits = model.logits(hidden)
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # fp32 at least; fp64 stays
        if vocab_limit is not None and vocab_limit < logits.shape[-1]:
            logits[:, vocab_limit:] = float("-inf")
        token, logprob = _choose(logits, temperature, top_p, uniforms[:, t])
        tokens.append(token)
        logprobs.append(logprob)
        emitted += (~done).long()
        done |= torch.isin(token, stop)
        if bool(done.all()):
            break
        # Rows never attend to each other, so finished rows just keep stepping and their outputs are dropped.
        ids, positions = token[:, None], positions[:, -1:] + 1
        mask = torch.cat((mask, torch.ones_like(mask[:, :1])), 1)

    rows = zip(torch.stack(tokens, 1).tolist(), torch.stack(logprobs, 1).tolist(), emitted.tolist(), done.tolist())
    return [Completion(t[:n], lp[:n], "stop" if stopped else "length") for t, lp, n, stopped in rows]
