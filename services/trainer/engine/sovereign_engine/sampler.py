"""Batched autoregressive sampling from a CausalLM with transformers' KV cache: temperature, top-p, stop tokens.

Prompts are left-padded so that every row's next token sits in the same column: each step passes the 2-D mask of
real tokens so far and position ids counting real tokens only, so a padded row computes what it would alone.

Each row draws from a generator of its own, seeded per prompt: one uniform number per generated token, turned into
a token by the inverse of the row's cumulative distribution. A completion then depends on its prompt and seed (and
the model), not on which other prompts share its batch, which rank decodes it or how many ranks there are. That
freedom is what the decoder uses to go fast:

- rows are decoded in micro-batches whose KV cache fits a token budget (`max_batch_tokens`), longest prompts
  first so that little of a micro-batch is padding;
- identical prompts (GRPO's group of samples per prompt) are prefilled once per micro-batch and their cache rows
  copied for each sample;
- a row that draws a stop id leaves the batch, its cache rows with it, so later steps compute live rows only;
- with `compile`, decode steps run through torch.compile on a static cache (CUDA graphs on CUDA).
"""

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from transformers import DynamicCache, PretrainedConfig, StaticCache

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


class RolloutStaticCache(StaticCache):
    """transformers' StaticCache (preallocated, updated in place: what torch.compile and CUDA graphs need) in the
    compute dtype, as RolloutCache."""

    def __init__(self, dtype: torch.dtype, **kwargs):
        super().__init__(**kwargs)
        self.dtype = dtype

    def update(self, key_states, value_states, layer_idx, *args, **kwargs):
        return super().update(key_states.to(self.dtype), value_states.to(self.dtype), layer_idx, *args, **kwargs)


def cache_bytes_per_token(config: PretrainedConfig, dtype: torch.dtype) -> int:
    """Bytes of KV cache one token takes in dtype: keys and values of every layer's kv heads. A memory budget
    divided by it is a `max_batch_tokens` (Qwen3-8B in bf16: 36 layers x 8 kv heads x 128 x 2 x 2 bytes, 144 KiB,
    so 20 GiB hold about 145,000 tokens). Sliding-window layers are counted in full: an upper bound."""
    text = config.get_text_config()
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    kv_heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
    return 2 * text.num_hidden_layers * kv_heads * head_dim * torch.tensor([], dtype=dtype).element_size()


def compute_dtype(weight: torch.Tensor) -> torch.dtype:
    """The dtype forwards compute in: autocast's where it is on for the weight's device, else the weight's own."""
    device = weight.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else weight.dtype


def plan_micro_batches(
    prompts: Sequence[Sequence[int]], max_new_tokens: int, max_batch_tokens: Optional[int] = None
) -> List[List[int]]:
    """The row indices of each micro-batch. Rows are taken longest prompt first, identical prompts side by side in
    input order, and a micro-batch is closed where one more row would take its cache, rows x (its longest prompt +
    max_new_tokens) positions, past max_batch_tokens; a row that exceeds the budget alone is decoded alone.
    Without a budget all rows form one micro-batch."""
    first: Dict[Tuple[int, ...], int] = {}
    keys = [first.setdefault(tuple(p), i) for i, p in enumerate(prompts)]
    order = sorted(range(len(prompts)), key=lambda i: (-len(prompts[i]), keys[i]))
    if max_batch_tokens is None:
        return [order]
    batches: List[List[int]] = [[]]
    width = 0
    for i in order:
        if batches[-1] and (len(batches[-1]) + 1) * width > max_batch_tokens:
            batches.append([])
        if not batches[-1]:
            width = len(prompts[i]) + max_new_tokens  # the first row is the micro-batch's longest
        batches[-1].append(i)
    return batches


def _left_padded(prompts: Sequence[Sequence[int]], pad_id: int, device: torch.device):
    """ids and 0/1 mask [n, longest], each prompt at the right end of its row."""
    n, width = len(prompts), max(len(p) for p in prompts)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros(n, width, dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p) :] = torch.tensor(list(p), dtype=torch.long)
        mask[i, width - len(p) :] = 1
    return ids.to(device), mask.to(device)


def _sampling_logits(logits: torch.Tensor, vocab_limit: Optional[int]) -> torch.Tensor:
    """logits [n, V] in fp32 at least (fp64 stays), ids from vocab_limit on at -inf."""
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    if vocab_limit is not None and vocab_limit < logits.shape[-1]:
        beyond = torch.arange(logits.shape[-1], device=logits.device) >= vocab_limit
        logits = logits.masked_fill(beyond, float("-inf"))
    return logits


def _decode_logits(model: CausalLM, ids, positions, mask, cache) -> torch.Tensor:
    """Last-position logits [n, V] of a forward (the prefill, a decode step): what `compile` compiles."""
    return model.logits(model(ids, positions, attention_mask=mask, past_key_values=cache)[:, -1])


# torch.compile settings for decode steps, per device type: CUDA graphs on CUDA ("reduce-overhead"), inductor's
# default elsewhere. One compiled function per device type; a new shape (rows, cache length) recompiles it.
COMPILE_OPTIONS: Dict[str, Dict[str, object]] = {"cuda": {"mode": "reduce-overhead"}, "default": {}}
_compiled: Dict[str, object] = {}


def _compiled_step(device: torch.device):
    if device.type not in _compiled:
        options = COMPILE_OPTIONS.get(device.type, COMPILE_OPTIONS["default"])
        _compiled[device.type] = torch.compile(_decode_logits, **options)
    return _compiled[device.type]


# A static cache's length is rounded up to a multiple of this, so that calls with close prompt lengths share a
# compiled step.
STATIC_CACHE_ROUND = 64


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
    max_batch_tokens: Optional[int] = None,
    compile: bool = False,
) -> List[Completion]:
    """One completion per prompt, in the prompts' order. The KV cache is in the compute dtype (compute_dtype).

    temperature 0 is greedy; otherwise logits are divided by it and, with top_p < 1, cut to the nucleus, and the
    log-probs are those of this final distribution. A row stops at its first stop id or after max_new_tokens.
    Row i draws from a generator seeded with seeds[i]; without seeds, the rows' seeds are drawn from `generator`,
    else from a generator seeded with `seed`, else from torch's global one.
    With vocab_limit, ids from vocab_limit on are never drawn: a checkpoint's embedding rows past its tokenizer's
    vocabulary (Qwen3: 151,936 rows, 151,669 tokens) are padding that decodes to nothing.

    max_batch_tokens bounds each micro-batch's cache in token positions (plan_micro_batches; a memory budget over
    cache_bytes_per_token gives it); None decodes all rows together. Identical prompts are prefilled once per
    micro-batch. compile runs decode steps through torch.compile (COMPILE_OPTIONS) on a static cache: meant for
    CUDA, where it captures CUDA graphs; finished rows then stay in the batch until all are done. None of these
    change a completion: it depends on its prompt, its seed and the model only.
    """
    if any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    if vocab_limit is not None and vocab_limit < 1:
        raise ValueError(f"vocab_limit must be at least 1, got {vocab_limit}")
    if max_batch_tokens is not None and max_batch_tokens < 1:
        raise ValueError(f"max_batch_tokens must be at least 1, got {max_batch_tokens}")
    if not prompts or max_new_tokens <= 0:
        return [Completion([], [], "length") for _ in prompts]
    if seeds is not None and len(seeds) != len(prompts):
        raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
    if seeds is None:
        if generator is None and seed is not None:
            generator = torch.Generator().manual_seed(seed)
        seeds = row_seeds(len(prompts), generator)
    device = model.lm_head_weight().device
    stop = torch.tensor(sorted(set(stop_ids)), dtype=torch.long, device=device)
    completions: List[Optional[Completion]] = [None] * len(prompts)
    for rows in plan_micro_batches(prompts, max_new_tokens, max_batch_tokens):
        decoded = _decode(
            model, [prompts[i] for i in rows], [int(seeds[i]) for i in rows], max_new_tokens=max_new_tokens,
            temperature=temperature, top_p=top_p, stop=stop, pad_id=pad_id, vocab_limit=vocab_limit,
            compile=compile,
        )
        for i, completion in zip(rows, decoded):
            completions[i] = completion
    return completions


def _decode(
    model: CausalLM, prompts: Sequence[Sequence[int]], seeds: Sequence[int], *, max_new_tokens: int,
    temperature: float, top_p: float, stop: torch.Tensor, pad_id: int, vocab_limit: Optional[int], compile: bool,
) -> List[Completion]:
    """One micro-batch: its distinct prompts prefilled together, their cache rows copied to every row that has the
    prompt, then one token per live row a step."""
    weight = model.lm_head_weight()
    device = weight.device
    n = len(prompts)
    # Drawn on the CPU up front, one row at a time: the same numbers whatever the device and the batch.
    uniforms = torch.stack([
        torch.rand(max_new_tokens, generator=torch.Generator().manual_seed(s), dtype=torch.float64) for s in seeds
    ]).to(device)

    distinct: Dict[Tuple[int, ...], int] = {}
    source = [distinct.setdefault(tuple(p), len(distinct)) for p in prompts]  # row -> its prompt's prefill row
    ids, mask = _left_padded([list(p) for p in distinct], pad_id, device)
    positions = (mask.cumsum(-1) - 1).clamp_min(0)
    cache = RolloutCache(compute_dtype(weight), config=model.config)
    logits = _sampling_logits(_decode_logits(model, ids, positions, mask, cache), vocab_limit)
    # Only the prompts' own rows so far: the first token is drawn for every row from its prompt's logits, and the
    # cache rows are copied (with the finished rows left out) before the next step.
    select = None if source == list(range(n)) else torch.tensor(source, device=device)
    if select is not None:
        logits, mask, positions = logits[select], mask[select], positions[select]
    positions = positions[:, -1:]

    tokens = torch.zeros(n, max_new_tokens, dtype=torch.long, device=device)
    logprobs = torch.zeros(n, max_new_tokens, dtype=logits.dtype, device=device)
    lengths = torch.zeros(n, dtype=torch.long, device=device)
    stopped = torch.zeros(n, dtype=torch.bool, device=device)
    if compile:
        return _decode_static(
            model, cache, select, logits, mask, positions, uniforms, tokens, logprobs, lengths, stopped,
            temperature=temperature, top_p=top_p, stop=stop, vocab_limit=vocab_limit,
        )

    live = torch.arange(n, device=device)  # the micro-batch rows still decoding, in batch order
    for t in range(max_new_tokens):
        if t > 0:
            logits = _sampling_logits(_decode_logits(model, ids, positions, mask, cache), vocab_limit)
        token, logprob = _choose(logits, temperature, top_p, uniforms[live, t])
        tokens[live, t], logprobs[live, t] = token, logprob
        lengths[live] += 1
        finished = torch.isin(token, stop)
        if bool(finished.any()):
            stopped[live[finished]] = True
            keep = (~finished).nonzero()[:, 0]
            live, token, mask, positions = live[keep], token[keep], mask[keep], positions[keep]
            select = keep if select is None else select[keep]
        if live.numel() == 0 or t == max_new_tokens - 1:
            break
        if select is not None:
            cache.batch_select_indices(select)
            select = None
        ids, positions = token[:, None], positions + 1
        mask = torch.cat((mask, torch.ones_like(mask[:, :1])), 1)
    return _completions(tokens, logprobs, lengths, stopped)


def _decode_static(
    model, prefilled, select, logits, mask, positions, uniforms, tokens, logprobs, lengths, stopped, *,
    temperature, top_p, stop, vocab_limit,
) -> List[Completion]:
    """Decode steps through the compiled step on a static cache: fixed shapes, so every row steps until all are
    done and a finished row's later tokens are dropped."""
    n, prompt_len = mask.shape
    max_new_tokens = uniforms.shape[1]
    length = -(-(prompt_len + max_new_tokens) // STATIC_CACHE_ROUND) * STATIC_CACHE_ROUND
    cache = RolloutStaticCache(prefilled.dtype, config=model.config, max_cache_len=length)
    for layer_idx, layer in enumerate(prefilled.layers):
        keys, values = (layer.keys, layer.values) if select is None else (layer.keys[select], layer.values[select])
        cache.update(keys, values, layer_idx)
    del prefilled
    # Every position after the prompt is real: the causal mask (from the cache's own length) hides those not yet
    # written, and a mask of the full length keeps the step's shapes the same at every step.
    mask = torch.cat((mask, torch.ones(n, length - prompt_len, dtype=mask.dtype, device=mask.device)), 1)
    step = _compiled_step(mask.device)
    done = torch.zeros(n, dtype=torch.bool, device=mask.device)
    for t in range(max_new_tokens):
        if t > 0:
            # A copy: a CUDA graph's output is overwritten by its next replay.
            logits = _sampling_logits(step(model, ids, positions, mask, cache).clone(), vocab_limit)
        token, logprob = _choose(logits, temperature, top_p, uniforms[:, t])
        tokens[:, t], logprobs[:, t] = token, logprob
        lengths += (~done).long()
        finished = torch.isin(token, stop) & ~done
        stopped |= finished
        done |= finished
        if t == max_new_tokens - 1 or bool(done.all()):
            break
        ids, positions = token[:, None], positions + 1
    return _completions(tokens, logprobs, lengths, stopped)


def _completions(tokens, logprobs, lengths, stopped) -> List[Completion]:
    rows = zip(tokens.tolist(), logprobs.tolist(), lengths.tolist(), stopped.tolist())
    return [Completion(t[:n], lp[:n], "stop" if s else "length") for t, lp, n, s in rows]
