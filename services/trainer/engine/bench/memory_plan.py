"""Memory plan of the recipe's stages under FSDP2, computed from a model config: GiB per GPU and on the host.

    python bench/memory_plan.py                                  # Qwen3 0.6B-8B x stages x 1xH100, 1xH200, 8xH100
    python bench/memory_plan.py --models Qwen3-8B --machines 8xH100 --stages sft --detail   # each peak's parts
    python bench/memory_plan.py --config /models/Qwen3-4B/config.json --seq-len 8192 --no-checkpointing
    python bench/memory_plan.py --json plan.json                 # the same rows, with every phase, as JSON

For every (model, stage, machine, offload) it adds up what one GPU holds in each phase of a step (rollout,
teacher or reference forward, loss, backward, end of backward), takes the largest phase on top of what stays for
the whole run (the sharded training state, sharded frozen models), and says whether that fits the device with the
headroom below, and what the host holds. These are computed from the shapes, not measured on a GPU.

What the figures assume is the ASSUMPTIONS list below; it is printed with every table.
"""

import argparse
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Dict, List, Optional, Sequence

GIB = 2**30
VOCAB = 151936

ASSUMPTIONS = [
    "Computed from the model's shapes, not measured; GiB = 2^30 bytes.",
    "FSDP2 full sharding over the machine's N GPUs, one unit per decoder layer plus the root (embeddings, final norm, "
    "LM head), MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32): fp32 master params, fp32 grads and AdamW's "
    "m and v, all sharded: 16/N bytes per parameter. AdamW is the fused one (no temporaries in the step).",
    "A decoder layer is all-gathered in bf16 while it computes and the next is prefetched: 2 layers' bf16 params. In "
    "backward a layer also has its bf16 grads and the fp32 reduce-scatter input (2 + 4 bytes per parameter of the "
    "layer). The all-gather input buffers (2/N bytes per parameter of a unit) are left out.",
    "The root unit is not resharded between forward and backward (FSDP2's default for the root): its bf16 params "
    "stay for the whole step. At the end of backward the head's and the embedding's bf16 grads (the embedding's "
    "backward makes a dense [V, H] one, tied or not) and the root's fp32 reduce-scatter input exist at once.",
    "Activations are those transformers' Qwen3 modules save in bf16 with SDPA/flash attention (no [seq x seq] "
    "scores, GQA without repeating k/v), per token and layer: each RMSNorm an fp32 copy of its input, its bf16 "
    "normalised value and fp32 rsqrt; projections their bf16 inputs; q/k norms likewise; SDPA q, k, v, output and "
    "fp32 logsumexp; SiLU-and-multiply gate, up, silu(gate) and the product: 16H + 10q + 10kv + 8I + 8h + 4g + 8 "
    "bytes (q = heads x head_dim, kv = kv_heads x head_dim, h heads, g kv heads). A Qwen3-MoE MLP keeps every routed "
    "copy at once (transformers' grouped_mm experts): 8H + 4 + 4E + k(4H + 8I_moe + 35). Plus per forward the input "
    "ids (8) and RoPE tables (4 x head_dim), and the final norm (6H + 4). tests/bench checks these counts against "
    "a real transformers model's saved tensors.",
    "Activation checkpointing per decoder layer keeps a layer's input (2H per token); backward recomputes one layer "
    "at a time. Backward through a layer needs its activations (recomputed under checkpointing) plus gradient "
    "buffers of about the same size, and two [tokens, H] bf16 gradients of the residual stream.",
    "The LM head never builds [tokens x vocab] logits (sovereign_engine/kernels): a kernel holds fp32 gradient "
    "accumulators [T, H] and [V, H], per chunk c rows of (4n + 2) x c x V bytes (n fp32 [c, V] temporaries: 1 cross-"
    "entropy, 1 selected log-probs, 3 with entropy, 4 forward KL, 5 reverse KL, 7 JSD, 4 top-K), a bf16 [V, H] "
    "product per chunk, and hands back bf16 gradients: peak 4TH + 6VH + max(chunk, 2TH).",
    "Rollouts (OPD's sampled steps, GRPO): the policy is unsharded in bf16 for generation (2 bytes per parameter on "
    "every GPU; --no-unshard-for-rollout: the root and two layers at a time, as in training); the KV cache is "
    "layers x 2 x kv_heads x head_dim x 2 bytes per token of the GPU's share of the step's sequences (OPD: one per "
    "prompt, GRPO: groupSize per prompt) of "
    "prompt + new tokens; prefill runs all prompts at once and keeps the last position's logits only; a decode "
    "step's sampling (softmax, top-p sort) takes about 30 bytes per sequence x vocab. The cache is freed before "
    "training.",
    "Frozen models (OPD's teacher, GRPO's reference with klCoef > 0) are bf16, sharded the same way (2/N bytes per "
    "parameter), or on the host with FSDP2's CPUOffloadPolicy (one unit at a time on the GPU). Their root unit "
    "(embeddings, head) stays unsharded from their forward through the loss; the policy's root stays unsharded "
    "meanwhile, its layers do not. A no-grad forward keeps about "
    "4H + max(12H, 6q + 6kv, MLP) bytes per token of one layer alive (dense MLP 6I; MoE k(4H + 6I_moe) + 4E).",
    "CPU offload of the policy (CPUOffloadPolicy): fp32 params, grads and AdamW states on the host, the optimizer "
    "step on the CPU; the GPU keeps the unsharded bf16 units, activations and kernel workspace.",
    "The host holds the offloaded state plus about 3 GiB per rank for the process itself; checkpoint loading and "
    "saving (transient) is left out.",
    "Fits: peak + 1.5 GiB CUDA context <= 90% of the device (H100 81,559 MiB, H200 143,771 MiB, as nvidia-smi "
    "reports them), and host <= 90% of the host's memory (assumed 128 GiB for a one-GPU machine, 2 TiB for 8xH100; "
    "--host-gib changes it). The 10% is for the caching allocator's fragmentation and what the plan leaves out.",
]

# config.json of each model as published on the Hugging Face Hub (huggingface.co/Qwen/<name>/blob/main/config.json),
# the fields that shape the parameters. tests/bench/test_memory_plan.py builds each with transformers on the meta
# device and checks the parameter count against param_counts().
_QWEN3 = dict(architectures=["Qwen3ForCausalLM"], model_type="qwen3", vocab_size=VOCAB, head_dim=128,
              attention_bias=False, max_position_embeddings=40960, rope_theta=1000000, rms_norm_eps=1e-6)
PRESETS: Dict[str, Dict] = {
    "Qwen3-0.6B": dict(_QWEN3, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                       num_attention_heads=16, num_key_value_heads=8, tie_word_embeddings=True),
    "Qwen3-1.7B": dict(_QWEN3, hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
                       num_attention_heads=16, num_key_value_heads=8, tie_word_embeddings=True),
    "Qwen3-4B": dict(_QWEN3, hidden_size=2560, intermediate_size=9728, num_hidden_layers=36,
                     num_attention_heads=32, num_key_value_heads=8, tie_word_embeddings=True),
    "Qwen3-8B": dict(_QWEN3, hidden_size=4096, intermediate_size=12288, num_hidden_layers=36,
                     num_attention_heads=32, num_key_value_heads=8, tie_word_embeddings=False),
    "Qwen3-30B-A3B": dict(_QWEN3, architectures=["Qwen3MoeForCausalLM"], model_type="qwen3_moe", hidden_size=2048,
                          intermediate_size=6144, num_hidden_layers=48, num_attention_heads=32,
                          num_key_value_heads=4, tie_word_embeddings=False, num_experts=128,
                          num_experts_per_tok=8, moe_intermediate_size=768, decoder_sparse_step=1,
                          mlp_only_layers=[], norm_topk_prob=True),
}
STUDENTS = ["Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B"]
TEACHER = "Qwen3-30B-A3B"


@dataclass(frozen=True)
class Machine:
    gpus: int
    gpu_gib: float  # device memory as nvidia-smi reports it
    host_gib: float  # host memory of the whole machine (an assumption; --host-gib)


MACHINES = {
    "1xH100": Machine(1, 81559 / 1024, 128),
    "1xH200": Machine(1, 143771 / 1024, 128),
    "8xH100": Machine(8, 81559 / 1024, 2048),
}
STAGES = ["sft", "opd", "grpo", "ink-grpo"]
DIVERGENCES = ["forward_kl", "reverse_kl", "jsd", "topk"]  # OPD's losses; topk: against the teacher's top-K
OFFLOADS = {
    "none": "everything on the GPUs",
    "frozen": "teacher / reference on the host",
    "all": "policy state (CPUOffloadPolicy) and teacher / reference on the host",
}


@dataclass(frozen=True)
class Shape:
    """The shapes of a Qwen3 or Qwen3-MoE causal LM, read from its config.json."""

    name: str
    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    tied: bool
    attention_bias: bool = False
    experts: int = 0
    top_k: int = 0
    moe_intermediate: int = 0
    moe_layers: tuple = ()  # per layer: True where the MLP is the sparse MoE block

    @classmethod
    def from_config(cls, config: Dict, name: str = "") -> "Shape":
        model_type = config.get("model_type")
        if model_type not in ("qwen3", "qwen3_moe"):
            raise ValueError(f"only Qwen3 and Qwen3-MoE layouts are modelled, got model_type {model_type!r}")
        hidden, heads, layers = config["hidden_size"], config["num_attention_heads"], config["num_hidden_layers"]
        experts = config.get("num_experts", 0) if model_type == "qwen3_moe" else 0
        step, dense_only = config.get("decoder_sparse_step", 1), set(config.get("mlp_only_layers") or [])
        # The rule transformers' Qwen3MoeDecoderLayer uses to pick the sparse block.
        moe = tuple(experts > 0 and i not in dense_only and (i + 1) % step == 0 for i in range(layers))
        return cls(
            name=name or config.get("_name_or_path") or model_type, vocab=config["vocab_size"], hidden=hidden,
            layers=layers, heads=heads, kv_heads=config.get("num_key_value_heads", heads),
            head_dim=config.get("head_dim") or hidden // heads, intermediate=config["intermediate_size"],
            tied=bool(config.get("tie_word_embeddings", False)), attention_bias=bool(config.get("attention_bias")),
            experts=experts, top_k=config.get("num_experts_per_tok", 0) if experts else 0,
            moe_intermediate=config.get("moe_intermediate_size", 0) if experts else 0,
            moe_layers=moe,
        )

    @property
    def q(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv(self) -> int:
        return self.kv_heads * self.head_dim

    def is_moe(self, i: int) -> bool:
        return bool(self.moe_layers) and self.moe_layers[i]


def load_shape(name_or_path: str) -> Shape:
    if name_or_path in PRESETS:
        return Shape.from_config(PRESETS[name_or_path], name_or_path)
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "config.json"
    return Shape.from_config(json.loads(path.read_text()), path.parent.name)


# ---------------------------------------------------------------------------------------------------- parameters


def layer_params(s: Shape, i: int) -> int:
    H = s.hidden
    attention = H * s.q + 2 * H * s.kv + s.q * H + 2 * s.head_dim  # q, k, v, o and the q/k norms
    if s.attention_bias:
        attention += s.q + 2 * s.kv + H
    if s.is_moe(i):
        mlp = H * s.experts + s.experts * 3 * H * s.moe_intermediate  # router, experts' gate/up/down
    else:
        mlp = 3 * H * s.intermediate
    return attention + mlp + 2 * H  # + input and post-attention norms


def param_counts(s: Shape) -> Dict[str, int]:
    """total; embedding and head (0 when tied); root (the FSDP root unit: embedding, head, final norm); largest
    decoder layer; active (what one token passes through: k of the experts in MoE layers)."""
    layers = [layer_params(s, i) for i in range(s.layers)]
    embedding, head = s.vocab * s.hidden, 0 if s.tied else s.vocab * s.hidden
    root = embedding + head + s.hidden
    idle = sum((s.experts - s.top_k) * 3 * s.hidden * s.moe_intermediate for i in range(s.layers) if s.is_moe(i))
    total = root + sum(layers)
    return {"total": total, "embedding": embedding, "head": head, "root": root, "layers": sum(layers),
            "largest_layer": max(layers), "active": total - idle}


# ---------------------------------------------------------------------------------------------------- activations


def attention_bytes(s: Shape) -> int:
    """Saved bytes per token of a layer's attention block, input norm included (see ASSUMPTIONS)."""
    return 8 * s.hidden + 4 + 10 * s.q + 10 * s.kv + 8 * s.heads + 4 * s.kv_heads


def mlp_bytes(s: Shape, i: int) -> int:
    """Saved bytes per token of a layer's MLP block, post-attention norm included."""
    if s.is_moe(i):
        return 8 * s.hidden + 4 + 4 * s.experts + s.top_k * (4 * s.hidden + 8 * s.moe_intermediate + 35)
    return 8 * s.hidden + 4 + 8 * s.intermediate


def layer_activation_bytes(s: Shape, i: int) -> int:
    return attention_bytes(s) + mlp_bytes(s, i)


def forward_extra_bytes(s: Shape) -> int:
    """Saved bytes per token outside the layers: input ids, RoPE cos/sin, the final norm."""
    return 8 + 4 * s.head_dim + 6 * s.hidden + 4


def saved_activation_bytes(s: Shape, tokens: int, checkpointing: bool) -> int:
    per_layer = [2 * s.hidden if checkpointing else layer_activation_bytes(s, i) for i in range(s.layers)]
    return tokens * (sum(per_layer) + forward_extra_bytes(s))


def nograd_layer_bytes(s: Shape) -> int:
    """Bytes per token alive at once in the largest layer of a no-grad forward (estimate, see ASSUMPTIONS)."""
    mlp = max(
        s.top_k * (4 * s.hidden + 6 * s.moe_intermediate) + 4 * s.experts if s.is_moe(i) else 6 * s.intermediate
        for i in range(s.layers)
    )
    return 4 * s.hidden + max(12 * s.hidden, 6 * s.q + 6 * s.kv, mlp)


def kv_cache_bytes(s: Shape, tokens: int) -> int:
    return s.layers * 2 * s.kv_heads * s.head_dim * 2 * tokens


# ---------------------------------------------------------------------------------------------------- LM-head kernels

# fp32 [chunk, V] temporaries each kernel holds at once (see the kernels' docstrings).
KERNEL_TEMPS = {
    "cross_entropy": 1, "selected_logprobs": 1, "selected_logprobs_entropy": 3,
    "forward_kl": 4, "reverse_kl": 5, "jsd": 7, "topk": 4,
}


def kernel_chunk_bytes(kernel: str, tokens: int, vocab: int, chunk_size: int) -> int:
    return (4 * KERNEL_TEMPS[kernel] + 2) * min(chunk_size, tokens) * vocab


def kernel_bytes(kernel: str, tokens: int, hidden: int, vocab: int, chunk_size: int) -> Dict[str, int]:
    """Extra bytes of a chunked LM-head kernel with gradients, beyond its inputs: at its forward, its backward, and
    the peak of a forward+backward (what bench/gpu.py measures as peak extra memory)."""
    T, H, V = tokens, hidden, vocab
    chunk = kernel_chunk_bytes(kernel, T, V, chunk_size)
    accumulators = 4 * T * H + 4 * V * H + 2 * V * H  # fp32 grads, plus the bf16 [V, H] product of a chunk
    if kernel.startswith("selected_logprobs"):  # gradients are formed in backward
        forward, backward = chunk + 4 * T, accumulators + max(chunk, 2 * T * H)
    else:  # gradients are formed in forward, backward only hands back bf16 copies
        forward, backward = accumulators + chunk, accumulators + 2 * T * H
    return {"forward": forward, "backward": backward, "peak": max(forward, backward)}


# ---------------------------------------------------------------------------------------------------- the plan


@dataclass
class Setup:
    """The knobs of a plan; defaults follow the run spec's defaults (schemas/src/training.ts) where it has one."""

    seq_len: int = 4096  # tokens per packed row (seqLen)
    micro_batch: int = 1  # packed rows per micro-batch on one GPU
    checkpointing: bool = True  # activation checkpointing per decoder layer (gradientCheckpointing)
    chunk_size: int = 1024  # rows per chunk of the LM-head kernels (DEFAULT_CHUNK_SIZE)
    divergence: str = "forward_kl"  # OPD's loss: forward_kl, reverse_kl, jsd, or topk (the teacher's top-K)
    prompts: int = 8  # prompts sampled per step over all GPUs (rowsPerStep)
    group_size: int = 8  # GRPO's samples per prompt (groupSize); OPD samples one
    prompt_len: int = 1024  # prompt tokens per rollout (no spec default: an assumption)
    new_tokens: int = 512  # generated tokens per rollout (maxTokens)
    unshard_for_rollout: bool = True  # False: generate through FSDP2's per-layer all-gathers (slower, less memory)
    reference: bool = True  # GRPO keeps a reference model (klCoef > 0)
    teacher: str = TEACHER  # OPD's teacher: a preset name or a config.json path
    context_gib: float = 1.5  # CUDA context and NCCL, outside PyTorch's allocator
    headroom: float = 0.10  # share of the device and host left free
    process_host_gib: float = 3.0  # host memory of each rank's process besides offloaded tensors

    @property
    def tokens(self) -> int:
        return self.micro_batch * self.seq_len


def _rollout_phases(s: Shape, n: int, setup: Setup, per_prompt: int) -> Dict[str, Dict[str, int]]:
    seqs = math.ceil(setup.prompts * per_prompt / n)
    if setup.unshard_for_rollout:
        policy = {"policy bf16, unsharded for generation": 2 * param_counts(s)["total"]}
    else:
        policy = _units(s, "policy")
    prefill_tokens = seqs * setup.prompt_len
    return {
        "rollout prefill": {
            **policy,
            "KV cache (prompts)": kv_cache_bytes(s, prefill_tokens),
            "prefill working set": prefill_tokens * nograd_layer_bytes(s),
        },
        "rollout decode": {
            **policy,
            "KV cache": kv_cache_bytes(s, seqs * (setup.prompt_len + setup.new_tokens)),
            "sampling step (softmax, top-p)": 30 * seqs * s.vocab,
        },
    }


def _root(s: Shape, label: str) -> Dict[str, int]:
    return {f"{label} root unit, bf16 unsharded": 2 * param_counts(s)["root"]}


def _units(s: Shape, label: str) -> Dict[str, int]:
    """What a model holds unsharded while it computes: its root unit and two decoder layers."""
    return {**_root(s, label), f"{label} 2 decoder layers, bf16 unsharded": 2 * 2 * param_counts(s)["largest_layer"]}


def _training_phases(s: Shape, setup: Setup, kernel: str, prefix: str = "",
                     extra_forward: Optional[Dict[str, int]] = None) -> Dict[str, Dict[str, int]]:
    """Forward+loss, the loss's backward, a layer's backward and the end of backward of one micro-batch."""
    T, H, V = setup.tokens, s.hidden, s.vocab
    counts = param_counts(s)
    units = _units(s, "policy")
    acts = {"saved activations": saved_activation_bytes(s, T, setup.checkpointing)}
    k = kernel_bytes(kernel, T, H, V, setup.chunk_size)
    layer = max(layer_activation_bytes(s, i) for i in range(s.layers)) * T
    backward_layer = {"gradient buffers of one layer": layer, "residual-stream gradients": 2 * 2 * T * H}
    if setup.checkpointing:
        backward_layer["one layer recomputed"] = layer
    return {
        f"{prefix}forward + loss": {
            **units, **acts, **(extra_forward or {}), f"{kernel} kernel, forward": k["forward"],
        },
        f"{prefix}loss backward": {**units, **acts, f"{kernel} kernel, backward": k["backward"]},
        f"{prefix}layer backward": {
            **units, **acts, "LM-head grad, bf16": 2 * V * H, **backward_layer,
            "layer grads bf16 + fp32 reduce-scatter input": 6 * counts["largest_layer"],
        },
        f"{prefix}end of backward": {
            **_root(s, "policy"),
            "head and embedding grads, bf16": 4 * V * H,
            "root fp32 reduce-scatter input": 4 * counts["root"],
        },
    }


def _nograd_forward(s: Shape, setup: Setup, label: str, kernel: Optional[str] = None) -> Dict[str, int]:
    T = setup.tokens
    parts = {
        **_units(s, label),
        f"{label} forward working set": T * nograd_layer_bytes(s),
        f"{label} hidden states": 2 * T * s.hidden,
    }
    if kernel:
        parts[f"{kernel} kernel, no grad"] = kernel_chunk_bytes(kernel, T, s.vocab, setup.chunk_size)
    return parts


def plan(stage: str, policy: Shape, machine: Machine, offload: str, setup: Setup,
         frozen: Optional[Shape] = None) -> Dict:
    """GPU and host bytes of one (model, stage, machine, offload). `frozen` is OPD's teacher or GRPO's reference
    (default: the policy's own shape)."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    if offload not in OFFLOADS:
        raise ValueError(f"offload must be one of {list(OFFLOADS)}, got {offload!r}")
    if setup.divergence not in DIVERGENCES:
        raise ValueError(f"divergence must be one of {DIVERGENCES}, got {setup.divergence!r}")
    n, T = machine.gpus, setup.tokens
    P = param_counts(policy)["total"]
    gpu_state: Dict[str, int] = {}
    host_state: Dict[str, int] = {}
    state = "policy fp32 params + grads + AdamW m, v (sharded)"
    (host_state if offload == "all" else gpu_state)[state] = 16 * P // n

    phases: Dict[str, Dict[str, int]] = {}
    frozen_label = None
    if stage == "opd":
        frozen, frozen_label = frozen or load_shape(setup.teacher), "teacher"
    elif stage in ("grpo", "ink-grpo") and setup.reference:
        frozen, frozen_label = frozen or policy, "reference"
    if frozen_label:
        where = host_state if offload in ("frozen", "all") else gpu_state
        where[f"{frozen_label} bf16 (sharded)"] = 2 * param_counts(frozen)["total"] // n

    if stage == "sft":
        phases.update(_training_phases(policy, setup, "cross_entropy"))
    elif stage == "opd":
        phases.update(_rollout_phases(policy, n, setup, 1))
        student = {  # the student's layers are resharded while the teacher runs; its root is not
            **_root(policy, "policy"),
            "saved activations": saved_activation_bytes(policy, T, setup.checkpointing),
            "student hidden states": 2 * T * policy.hidden,
        }
        phases["teacher forward"] = {**student, **_nograd_forward(frozen, setup, "teacher")}
        teacher_in_loss = {
            **_root(frozen, "teacher"),
            "teacher hidden states": 2 * T * frozen.hidden,
            "student hidden states": 2 * T * policy.hidden,
        }
        phases.update(_training_phases(policy, setup, setup.divergence, extra_forward=teacher_in_loss))
    else:
        phases.update(_rollout_phases(policy, n, setup, setup.group_size))
        phases["old log-probs"] = _nograd_forward(policy, setup, "policy", "selected_logprobs")
        if frozen_label:
            phases["reference log-probs"] = {**_root(policy, "policy"),
                                             **_nograd_forward(frozen, setup, "reference", "selected_logprobs")}
        phases.update(_training_phases(policy, setup, "selected_logprobs_entropy"))
        if stage == "ink-grpo":
            phases.update(_training_phases(policy, setup, "cross_entropy", prefix="corpus "))

    peak_phase = max(phases, key=lambda name: sum(phases[name].values()))
    gpu = sum(gpu_state.values()) + sum(phases[peak_phase].values())
    host = sum(host_state.values()) * n + round(setup.process_host_gib * GIB) * n
    gpu_budget = (1 - setup.headroom) * machine.gpu_gib * GIB - setup.context_gib * GIB
    host_budget = (1 - setup.headroom) * machine.host_gib * GIB
    return {
        "model": policy.name, "stage": stage, "gpus": n, "offload": offload,
        "frozen": frozen.name if frozen_label else None,
        "gpu_bytes": gpu, "host_bytes": host,
        "gpu_budget_bytes": int(gpu_budget), "host_budget_bytes": int(host_budget),
        "fits": gpu <= gpu_budget and host <= host_budget, "peak_phase": peak_phase,
        "gpu_state": gpu_state, "host_state_per_rank": host_state, "phases": phases,
    }


# ---------------------------------------------------------------------------------------------------- output


def bytes_per_parameter(n: int) -> List[str]:
    """What each stage holds per parameter on one GPU of N (the table's state rows, in words)."""
    return [
        f"every stage: fp32 params 4/N + grads 4/N + AdamW m 4/N + v 4/N = 16/N = {16 / n:g} bytes per policy "
        f"parameter (0 on the GPU and 16/N on the host with offload 'all'); while a step runs, 2 bytes per parameter "
        "of the root unit and of two decoder layers (unsharded bf16)",
        f"OPD: + 2/N = {2 / n:g} bytes per teacher parameter (on the host with offload 'frozen' or 'all'); "
        "sampled steps: + 2 bytes per policy parameter (unsharded for generation) and the KV cache",
        f"GRPO, InK-GRPO: + 2/N = {2 / n:g} bytes per reference parameter; rollouts: + 2 bytes per policy parameter "
        "and the KV cache",
    ]


def gib(b: float) -> str:
    return f"{b / GIB:.1f}"


def print_table(rows: Sequence[Dict]) -> None:
    header = ["model", "stage", "GPUs", "offload", "GPU GiB", "budget", "host GiB", "host budget", "fits", "peak at"]
    cells = [[r["model"], r["stage"] + (f" ({r['frozen']})" if r["frozen"] and r["stage"] == "opd" else ""),
              r["machine"], r["offload"], gib(r["gpu_bytes"]), gib(r["gpu_budget_bytes"]),
              gib(r["host_bytes"]), gib(r["host_budget_bytes"]), "yes" if r["fits"] else "NO", r["peak_phase"]]
             for r in rows]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for c in cells:
        print("| " + " | ".join(c) + " |")


def print_detail(row: Dict) -> None:
    print(f"\n{row['model']} {row['stage']} on {row['machine']}, offload {row['offload']}: "
          f"{gib(row['gpu_bytes'])} GiB per GPU at '{row['peak_phase']}', host {gib(row['host_bytes'])} GiB")
    for name, value in row["gpu_state"].items():
        print(f"  {'whole run':<22} {name:<52} {gib(value):>7}")
    for name, value in row["host_state_per_rank"].items():
        print(f"  {'host, per rank':<22} {name:<52} {gib(value):>7}")
    for phase, parts in row["phases"].items():
        mark = " <- peak" if phase == row["peak_phase"] else ""
        print(f"  {phase:<22} {'total':<52} {gib(sum(parts.values())):>7}{mark}")
        for name, value in parts.items():
            print(f"  {'':<22}   {name:<50} {gib(value):>7}")


def print_shapes(shapes: Sequence[Shape]) -> None:
    print("| model | parameters | embedding | head | active per token | activations, bytes per token and layer "
          "| KV cache, bytes per token |")
    print("|---|---|---|---|---|---|---|")
    for s in shapes:
        c = param_counts(s)
        act = max(layer_activation_bytes(s, i) for i in range(s.layers))
        print(f"| {s.name} | {c['total']:,} | {c['embedding']:,} | {c['head']:,} | {c['active']:,} | {act:,} "
              f"| {kv_cache_bytes(s, 1):,} |")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=STUDENTS, help="presets or config.json paths (folders too)")
    p.add_argument("--config", nargs="+", default=[], help="config.json paths, in addition to --models")
    p.add_argument("--stages", nargs="+", choices=STAGES, default=STAGES)
    p.add_argument("--machines", nargs="+", choices=list(MACHINES), default=list(MACHINES))
    p.add_argument("--offload", nargs="+", choices=list(OFFLOADS), default=list(OFFLOADS))
    p.add_argument("--host-gib", type=float, help="host memory of every machine, instead of the assumed ones")
    defaults = Setup()
    for f in fields(Setup):
        flag, default = "--" + f.name.replace("_", "-"), getattr(defaults, f.name)
        if isinstance(default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            choices = DIVERGENCES if f.name == "divergence" else None
            p.add_argument(flag, type=type(default), default=default, choices=choices)
    p.add_argument("--detail", action="store_true", help="print every phase's parts for each row")
    p.add_argument("--json", type=Path, help="write the rows with their phases to this file")
    return p.parse_args(argv)


def main(argv=None) -> List[Dict]:
    args = parse_args(argv)
    setup = Setup(**{f.name: getattr(args, f.name) for f in fields(Setup)})
    shapes = [load_shape(m) for m in [*args.models, *args.config]]
    teacher = load_shape(setup.teacher)
    rows = []
    for shape in shapes:
        for stage in args.stages:
            for name in args.machines:
                machine = MACHINES[name]
                if args.host_gib is not None:
                    machine = Machine(machine.gpus, machine.gpu_gib, args.host_gib)
                for offload in args.offload:
                    if stage == "sft" and offload == "frozen" or (
                        stage in ("grpo", "ink-grpo") and not setup.reference and offload == "frozen"
                    ):
                        continue  # nothing frozen to move: the same row as 'none'
                    row = plan(stage, shape, machine, offload, setup, teacher if stage == "opd" else None)
                    rows.append({"machine": name, **row})

    print("Memory plan (computed, not measured). Assumptions:")
    for i, line in enumerate(ASSUMPTIONS, 1):
        print(f"  {i}. {line}")
    print("\nSetup: " + ", ".join(f"{k}={v}" for k, v in asdict(setup).items()))
    print("Offload: " + "; ".join(f"{k}: {v}" for k, v in OFFLOADS.items()))
    print()
    print_shapes(list(dict.fromkeys([*shapes, teacher])))
    for n in sorted({MACHINES[m].gpus for m in args.machines}):
        print(f"\nBytes per parameter on one GPU of N = {n}:")
        for line in bytes_per_parameter(n):
            print(f"  - {line}")
    print()
    print_table(rows)
    if args.detail:
        for row in rows:
            print_detail(row)
    if args.json:
        args.json.write_text(json.dumps({"assumptions": ASSUMPTIONS, "setup": asdict(setup), "rows": rows}, indent=1))
        print(f"\nwrote {args.json}")
    return rows


if __name__ == "__main__":
    main()
