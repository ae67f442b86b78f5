"""Qwen3 decoder with Hugging Face `Qwen3ForCausalLM` parameter names and math, for training and sampling.

The forward pass returns final-norm hidden states [B, T, H], not logits: the loss kernels multiply them by
`lm_head_weight()` chunk by chunk so the [B, T, V] logits never exist at once.

Attention masks are boolean, True where a query may attend to a key. Three things can narrow the plain causal
mask: packed documents (a row holding several documents whose position ids restart at 0, or explicit
`document_ids`), `attention_mask` marking padding, and a `KVCache` whose rows are left-padded so that all rows
of a batch write their next token into the same cache slot.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "float64": torch.float64}


def dtype_name(dtype: torch.dtype) -> str:
    return {value: name for name, value in DTYPES.items()}[dtype]


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """fp32 for bf16, fp16 and fp32 models as in Hugging Face; fp64 models stay fp64 (for numerical checks)."""
    return torch.promote_types(dtype, torch.float32)


@dataclass(frozen=True)
class Qwen3Config:
    """The fields of a Hugging Face Qwen3 `config.json`; the defaults are Qwen3-0.6B."""

    vocab_size: int = 151936  # Qwen tokenizer vocabulary, padded
    hidden_size: int = 1024
    intermediate_size: int = 3072  # SwiGLU inner width
    num_hidden_layers: int = 28
    num_attention_heads: int = 16
    num_key_value_heads: int = 8  # grouped-query attention: each kv head serves heads / kv_heads query heads
    head_dim: int = 128  # explicit in Qwen3, need not equal hidden_size / num_attention_heads
    max_position_embeddings: int = 40960
    rms_norm_eps: float = 1e-6
    rope_theta: float = 1e6
    tie_word_embeddings: bool = True  # lm_head reuses model.embed_tokens.weight
    attention_bias: bool = False  # biases on q, k, v and o projections
    initializer_range: float = 0.02  # std of the normal init of linear and embedding weights
    torch_dtype: Optional[str] = "bfloat16"  # dtype the weights are stored in
    bos_token_id: Optional[int] = 151643
    eos_token_id: Union[int, List[int], None] = 151645

    def __post_init__(self):
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads ({self.num_attention_heads}) must be a multiple of "
                f"num_key_value_heads ({self.num_key_value_heads})"
            )
        if self.head_dim % 2:
            raise ValueError(f"head_dim must be even for rotary embeddings, got {self.head_dim}")

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Qwen3Config":
        """Reads a Hugging Face config dict: unknown keys are ignored, unsupported features refused."""
        d = dict(d)
        if "torch_dtype" not in d and "dtype" in d:  # newer transformers write "dtype"
            d["torch_dtype"] = d["dtype"]
        rope = d.get("rope_parameters") or d.get("rope_scaling") or {}
        rope_type = rope.get("rope_type", rope.get("type", "default"))
        if rope_type != "default":
            raise ValueError(f"rope scaling {rope_type!r} is not supported, only plain RoPE")
        if "rope_theta" in rope:
            d.setdefault("rope_theta", rope["rope_theta"])
        if d.get("use_sliding_window"):
            raise ValueError("sliding-window attention is not supported")
        if d.get("hidden_act", "silu") != "silu":
            raise ValueError(f"hidden_act {d['hidden_act']!r} is not supported, only 'silu'")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> Dict[str, Any]:
        """The Hugging Face `config.json` contents."""
        fixed = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_act": "silu"}
        return {**fixed, **dataclasses.asdict(self)}


_TINY = dict(vocab_size=151936, max_position_embeddings=4096, torch_dtype="float32")
TINY_CONFIGS = {
    # Real vocabulary, toy width: exercises the tokenizer-sized head and embedding cheaply.
    "tiny": Qwen3Config(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        head_dim=16, tie_word_embeddings=True, **_TINY,
    ),
    # Untied head, one kv head for all query heads, head_dim != hidden / heads.
    "tiny-2": Qwen3Config(
        hidden_size=64, intermediate_size=160, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=1,
        head_dim=32, tie_word_embeddings=False, **_TINY,
    ),
}
CONFIGS = {**TINY_CONFIGS, "qwen3-0.6b": Qwen3Config()}


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float, device=None, dtype=None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # fp32 statistics, then cast back before the weight multiply, exactly as Hugging Face does.
        dtype = x.dtype
        x = x.to(compute_dtype(dtype))
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Softmax attention of q [B, h, T, D] over k, v [B, kv, S, D]; mask [B|1, 1, T, S] bool, None for causal T == S."""
    B, heads, T, D = q.shape
    kv_heads = k.shape[1]
    groups = heads // kv_heads
    sdpa = getattr(F, "scaled_dot_product_attention", None)
    if mask is None:
        # One kv head per query head lets the fused kernels take their is_causal path.
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        if sdpa is not None:
            return sdpa(q, k, v, is_causal=True)
        mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    else:
        # The query heads sharing a kv head are stacked along T instead, so k and v (the cache) are never copied.
        q, mask = q.reshape(B, kv_heads, groups * T, D), mask.repeat(1, 1, groups, 1)
    if sdpa is not None:
        y = sdpa(q, k, v, attn_mask=mask)
    else:
        scores = (q @ k.transpose(-2, -1)) * D**-0.5
        y = scores.masked_fill(~mask, float("-inf")).softmax(-1, dtype=compute_dtype(q.dtype)).to(q.dtype) @ v
    return y.reshape(B, heads, T, D)


class KVCache:
    """Preallocated keys and values [B, kv_heads, max_len, head_dim] per layer, plus which slots hold real tokens.

    Rows are left-padded so every row writes its next token into slot `length`; `valid` masks the padding.
    """

    def __init__(self, config: Qwen3Config, batch_size: int, max_len: int, *, device=None, dtype=torch.float32):
        shape = (batch_size, config.num_key_value_heads, max_len, config.head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.num_hidden_layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.num_hidden_layers)]
        self.valid = torch.zeros(batch_size, max_len, dtype=torch.bool, device=device)
        self.length = 0
        self.max_len = max_len

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Writes this step's keys and values for one layer; returns all of them so far."""
        end = self.length + k.shape[2]
        self.k[layer][:, :, self.length : end] = k
        self.v[layer][:, :, self.length : end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


class Attention(nn.Module):
    def __init__(self, config: Qwen3Config, layer_idx: int, device=None, dtype=None):
        super().__init__()
        c, kw = config, dict(device=device, dtype=dtype)
        self.layer_idx = layer_idx
        self.head_dim = c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, c.num_attention_heads * c.head_dim, bias=c.attention_bias, **kw)
        self.k_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=c.attention_bias, **kw)
        self.v_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=c.attention_bias, **kw)
        self.o_proj = nn.Linear(c.num_attention_heads * c.head_dim, c.hidden_size, bias=c.attention_bias, **kw)
        self.q_norm = RMSNorm(c.head_dim, c.rms_norm_eps, **kw)
        self.k_norm = RMSNorm(c.head_dim, c.rms_norm_eps, **kw)

    def forward(self, x, cos, sin, mask, kv_cache: Optional[KVCache]):
        B, T, _ = x.shape
        heads = (B, T, -1, self.head_dim)
        # QK-norm per head, before the rotation.
        q = self.q_norm(self.q_proj(x).view(heads)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(heads)).transpose(1, 2)
        v = self.v_proj(x).view(heads).transpose(1, 2)
        cos, sin = cos[:, None], sin[:, None]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if kv_cache is not None:
            k, v = kv_cache.update(self.layer_idx, k, v)
        y = attend(q, k, v, mask)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, -1))


class MLP(nn.Module):
    def __init__(self, config: Qwen3Config, device=None, dtype=None):
        super().__init__()
        c, kw = config, dict(device=device, dtype=dtype)
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False, **kw)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False, **kw)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False, **kw)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config: Qwen3Config, layer_idx: int, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps, **kw)
        self.self_attn = Attention(config, layer_idx, **kw)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps, **kw)
        self.mlp = MLP(config, **kw)

    def forward(self, x, cos, sin, mask, kv_cache: Optional[KVCache]):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, kv_cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Qwen3ForCausalLM(nn.Module):
    """The Qwen3 causal LM, initialised from `seed`; on device "meta" it allocates nothing (to load weights into)."""

    def __init__(self, config: Qwen3Config, *, seed: int = 0, device=None, dtype=None):
        super().__init__()
        self.config = config
        # Built on meta first so that torch's default init, which init_weights replaces anyway, costs nothing.
        kw = dict(device="meta", dtype=dtype)
        self.model = nn.ModuleDict(
            dict(
                embed_tokens=nn.Embedding(config.vocab_size, config.hidden_size, **kw),
                layers=nn.ModuleList(DecoderLayer(config, i, **kw) for i in range(config.num_hidden_layers)),
                norm=RMSNorm(config.hidden_size, config.rms_norm_eps, **kw),
            )
        )
        self.lm_head = (
            None if config.tie_word_embeddings else nn.Linear(config.hidden_size, config.vocab_size, bias=False, **kw)
        )
        self._inv_freq: Dict[Tuple[torch.device, torch.dtype], torch.Tensor] = {}  # rotary frequencies, per device
        self.gradient_checkpointing = False  # recompute each layer in backward instead of storing its activations
        device = torch.device("cpu" if device is None else device)
        if device.type != "meta":
            self.to_empty(device=device)
            self.init_weights(seed)

    @torch.no_grad()
    def init_weights(self, seed: int = 0):
        """Hugging Face's init: linear and embedding weights ~ N(0, initializer_range), biases 0, norm weights 1.

        Drawn on the CPU in fp32 from one seeded generator, so a seed gives the same weights on any device.
        """
        g = torch.Generator().manual_seed(seed)
        for module in self.modules():
            if isinstance(module, RMSNorm):
                module.weight.fill_(1.0)
            elif isinstance(module, (nn.Linear, nn.Embedding)):
                w = module.weight
                w.copy_(torch.empty(w.shape).normal_(0.0, self.config.initializer_range, generator=g))
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()

    def _rotary(self, position_ids: torch.Tensor, dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
        """cos, sin [B, T, head_dim] for the rotate_half convention, computed in fp32 and returned in dtype."""
        cdtype, key = compute_dtype(dtype), (position_ids.device, compute_dtype(dtype))
        if key not in self._inv_freq:
            # On the CPU, as Hugging Face does, so fp32 frequencies match it bit for bit; kept out of the state dict.
            d = self.config.head_dim
            inv_freq = 1.0 / (self.config.rope_theta ** (torch.arange(0, d, 2, dtype=torch.int64).to(cdtype) / d))
            self._inv_freq[key] = inv_freq.to(position_ids.device)
        freqs = position_ids.to(cdtype)[..., None] * self._inv_freq[key]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)

    def lm_head_weight(self) -> torch.Tensor:
        """[V, H]: the untied head, or the embedding matrix when tied."""
        return self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Full [..., V] logits; for small inputs and sampling, training uses the chunked loss kernels."""
        return F.linear(hidden, self.lm_head_weight())

    def new_kv_cache(self, batch_size: int, max_len: int) -> KVCache:
        w = self.lm_head_weight()
        return KVCache(self.config, batch_size, max_len, device=w.device, dtype=w.dtype)

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: Optional[torch.Tensor] = None,
        *,
        document_ids: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        kv_cache: Optional[KVCache] = None,
    ) -> torch.Tensor:
        """Final-norm hidden states [B, T, H] for input_ids [B, T].

        position_ids [B, T]: default 0, 1, ... counting real tokens only. Without a cache, a row whose given
        position ids restart at 0 holds several documents that do not attend to each other; `document_ids`
        [B, T] says the same explicitly. attention_mask [B, T]: 1 for real tokens, 0 for padding (with a cache,
        for this step's tokens; the cache remembers earlier steps). kv_cache: appended to, for decoding.
        """
        B, T = input_ids.shape
        device = input_ids.device
        start = 0 if kv_cache is None else kv_cache.length
        valid = None if attention_mask is None else attention_mask.bool()
        if kv_cache is not None:
            if document_ids is not None:
                raise ValueError("packed documents are not supported together with a KV cache")
            if start + T > kv_cache.max_len:
                raise ValueError(f"KV cache holds {kv_cache.max_len} positions, {start + T} needed")
            kv_cache.valid[:, start : start + T] = True if valid is None else valid
            valid = kv_cache.valid[:, : start + T]
        if position_ids is None:
            if valid is None:
                position_ids = torch.arange(T, device=device).expand(B, T)
            else:
                position_ids = (valid.long().cumsum(-1) - 1).clamp_min(0)[:, start:]
        elif document_ids is None and kv_cache is None:
            document_ids = (position_ids == 0).long().cumsum(-1)
        mask = None
        if valid is not None or document_ids is not None:
            q_slot = torch.arange(start, start + T, device=device)[:, None]
            k_slot = torch.arange(start + T, device=device)[None, :]
            mask = (k_slot <= q_slot)[None]
            if valid is not None:
                mask = mask & valid[:, None, :]
            if document_ids is not None:
                mask = mask & (document_ids[:, :, None] == document_ids[:, None, :])
            # A padding query may see nothing else; attending to itself keeps its row finite instead of NaN.
            mask = (mask | (k_slot == q_slot))[:, None]

        x = self.model.embed_tokens(input_ids)
        cos, sin = self._rotary(position_ids, x.dtype)
        for layer in self.model.layers:
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled() and kv_cache is None:
                x = torch.utils.checkpoint.checkpoint(layer, x, cos, sin, mask, None, use_reentrant=False)
            else:
                x = layer(x, cos, sin, mask, kv_cache)
        if kv_cache is not None:
            kv_cache.length = start + T
        return self.model.norm(x)
