"""The engine's models: any Hugging Face transformers causal LM, seen through `CausalLM`.

A `CausalLM` wraps a transformers `*ForCausalLM` and returns, from its forward, the final-norm hidden states
[B, T, H] of the base model (`get_decoder()`), never logits: the loss kernels multiply them by `lm_head_weight()`
(`get_output_embeddings().weight`) chunk by chunk, so the [B, T, V] logits never exist at once. Forwards go
through the wrapper, FSDP's root unit in a run (parallel.py).

Packed rows (several documents in a row, position ids restarting at 0 for each) need nothing from us: with no
attention mask and no cache, transformers finds the documents from the position ids (a new one wherever a
position is not the previous plus one) and keeps them apart: a block-diagonal mask for sdpa, eager and
flex_attention, variable-length kernels for flash-attention. Decoding passes a 2-D attention mask of real tokens
and a KV cache instead (see sampler.py).

A run names its models {"path": HF folder} (checkpoint.py loads it) or {"tiny": name in TINY_CONFIGS, "seed": n}:
drawn by transformers' own initialisation on the CPU in fp32 from the seed (init_model), so a seed gives the same
weights on any device and leaves the caller's random state untouched.
"""

import importlib
from typing import Any, Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, PretrainedConfig

# Loading and saving tiny models would otherwise draw progress bars into the engine's log.
transformers.utils.logging.disable_progress_bar()

# The real Qwen3 vocabulary (151,936 rows, 151,669 tokens) at toy width: the tokenizer-sized head and embedding
# are exercised cheaply. <|endoftext|> is bos, <|im_end|> eos, as in Qwen3's instruct checkpoints.
_QWEN_VOCAB = dict(vocab_size=151936, bos_token_id=151643, eos_token_id=151645, max_position_embeddings=4096)
TINY_CONFIGS: Dict[str, Dict[str, Any]] = {
    # Qwen3, the head tied to the embedding.
    "tiny": dict(
        model_type="qwen3", hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, tie_word_embeddings=True, **_QWEN_VOCAB,
    ),
    # Qwen3, untied head, one kv head for all query heads, head_dim != hidden / heads.
    "tiny-2": dict(
        model_type="qwen3", hidden_size=64, intermediate_size=160, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=1, head_dim=32, tie_word_embeddings=False, **_QWEN_VOCAB,
    ),
    # Qwen3-MoE: every layer sparse, 4 experts, top-2 with renormalised weights as in Qwen3-30B-A3B. The router's
    # load-balancing loss is off here and never added by the engine (it reads the base model's hidden states).
    "tiny-moe": dict(
        model_type="qwen3_moe", hidden_size=64, intermediate_size=128, moe_intermediate_size=32, num_experts=4,
        num_experts_per_tok=2, norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[],
        output_router_logits=False, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        tie_word_embeddings=False, **_QWEN_VOCAB,
    ),
    # Llama: no QK-norm, head_dim = hidden / heads.
    "tiny-llama": dict(
        model_type="llama", hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, tie_word_embeddings=False, **_QWEN_VOCAB,
    ),
}

# transformers' attn_implementation values the `attention` setting may name; "auto" picks one per device.
ATTENTION = ("auto", "sdpa", "eager", "flex_attention", "flash_attention_2")


def attention_implementation(setting: str, device: Union[str, torch.device]) -> str:
    """The attn_implementation for a setting: "auto" is flash_attention_2 on CUDA when the flash_attn package
    imports, else sdpa; a named implementation is used as it is."""
    if setting not in ATTENTION:
        raise ValueError(f"attention must be one of {ATTENTION}, got {setting!r}")
    if setting != "auto":
        return setting
    if torch.device(device).type == "cuda":
        try:
            importlib.import_module("flash_attn")
            return "flash_attention_2"
        except (ImportError, OSError):  # not installed, or built against another torch or CUDA
            pass
    return "sdpa"


class CausalLM(nn.Module):
    """A transformers causal LM whose forward returns final-norm hidden states instead of logits."""

    def __init__(self, hf: transformers.PreTrainedModel):
        super().__init__()
        self.hf = hf
        head = hf.get_output_embeddings()
        config = hf.config.get_text_config()
        # The chunked kernels compute logits as hidden @ weight.T; anything more would be silently dropped.
        extras = {
            "an LM-head bias": getattr(head, "bias", None) is not None,
            "final_logit_softcapping": getattr(config, "final_logit_softcapping", None) is not None,
            "logit_scale": getattr(config, "logit_scale", 1.0) not in (None, 1.0),
        }
        unsupported = [name for name, present in extras.items() if present]
        if unsupported:
            raise ValueError(f"{type(hf).__name__} has {', '.join(unsupported)}: its logits are not hidden @ head")

    @property
    def config(self) -> PretrainedConfig:
        return self.hf.config

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: Optional[torch.Tensor] = None,
        *,
        attention_mask: Optional[torch.Tensor] = None,
        past_key_values: Optional[transformers.Cache] = None,
    ) -> torch.Tensor:
        """Final-norm hidden states [B, T, H] for input_ids [B, T].

        position_ids [B, T]: default 0, 1, ...; restarting within a row (no mask, no cache) separates documents.
        attention_mask [B, past + T]: 1 for real tokens, 0 for padding, when decoding left-padded rows.
        past_key_values: a cache to append to (decoding); without one nothing is cached.
        """
        out = self.hf.get_decoder()(
            input_ids=input_ids, position_ids=position_ids, attention_mask=attention_mask,
            past_key_values=past_key_values, use_cache=past_key_values is not None,
        )
        return out.last_hidden_state

    def lm_head_weight(self) -> torch.Tensor:
        """[V, H]: the head's weight, the embedding matrix itself when tied."""
        return self.hf.get_output_embeddings().weight

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Full [..., V] logits; for small inputs and sampling, training uses the chunked loss kernels."""
        return F.linear(hidden, self.lm_head_weight())

    def eos_ids(self) -> List[int]:
        """The end-of-sequence ids the checkpoint names: generation_config.json's, then config.json's."""
        ids: List[int] = []
        generation = getattr(self.hf, "generation_config", None)
        for source in (generation, self.hf.config.get_text_config()):
            eos = getattr(source, "eos_token_id", None)
            for token in [] if eos is None else [eos] if isinstance(eos, int) else eos:
                if int(token) not in ids:
                    ids.append(int(token))
        return ids


def tiny_config(name: str) -> PretrainedConfig:
    if name not in TINY_CONFIGS:
        raise ValueError(f"unknown tiny model {name!r}; known: {sorted(TINY_CONFIGS)}")
    fields = dict(TINY_CONFIGS[name])
    return AutoConfig.for_model(fields.pop("model_type"), **fields)


def init_model(
    config: PretrainedConfig,
    seed: int,
    *,
    device: Union[str, torch.device] = "cpu",
    dtype: Optional[torch.dtype] = None,
    attention: str = "sdpa",
) -> CausalLM:
    """A causal LM for config with transformers' initialisation drawn on the CPU in fp32 from seed, then moved to
    device, its parameters cast to dtype (default fp32). The global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        hf = AutoModelForCausalLM.from_config(
            config, dtype=torch.float32, attn_implementation=attention_implementation(attention, device)
        )
    hf.to(device)
    # Parameters only: buffers such as the rotary frequencies stay in fp32, as transformers loads them.
    for p in hf.parameters():
        p.data = p.data.to(dtype or torch.float32)
    return CausalLM(hf)

