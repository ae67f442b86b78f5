"""GPU benchmark for one H100 in under ten minutes: the LM-head kernels against eager PyTorch, torch.compile and
Liger-Kernel, and an SFT step against transformers' own; results go to OUT/results.json and OUT/results.md.

    bash bench/gpu.sh OUT                              # on the GPU machine: Liger-Kernel from bench/wheels/, then this
    python bench/gpu.py OUT --cpu                      # small shapes on the CPU: every path that needs no CUDA
    python bench/gpu.py OUT --engine-step pkg.mod:make # another step in place of the engine's in part (b)

(a) Kernels at the Qwen3-8B head (H 4096, V 151,936, bf16) for 4k, 8k and 16k tokens: forward+backward time and peak
extra memory of each loss as eager PyTorch on materialised logits (bench/kernels.py's baselines), that eager code
under torch.compile, the engine's chunked kernel (sovereign_engine/kernels) and, for cross-entropy and JSD,
Liger-Kernel's fused linear losses; beside the chunked kernels' measured peak, the memory plan's
(memory_plan.kernel_bytes). Target: chunked cross-entropy within 1.15x the time of the three [T, H] x [H, V] matmuls
of a head's forward and backward, at <= 3 GiB extra memory, at 16k tokens.

(b) The SFT step at Qwen3-0.6B and 1.7B shapes (random weights), seq 4096, one row per micro-batch: tokens/s, MFU and
peak memory of each step, against transformers' own (model(input_ids, labels=...).loss, logits materialised). Target
for the engine's step: >= 1.5x its tokens/s at <= 0.7x its peak memory. A step comes from a factory
`make(config, seq_len, micro_batch, device) -> step`, `step()` running one optimizer step and returning the tokens it
trained; the engine's is `engine_step` (its SFT stage on a one-rank FSDP2 group), `--engine-step module:function`
names another in its place, and sft_section() takes any such factories.

Liger-Kernel where there is no network: put the pinned wheel in bench/wheels/ first, on a machine that reaches the
package index (`pip download liger-kernel==0.8.5 --no-deps -d bench/wheels`; Triton comes with CUDA builds of
torch). --liger-wheels DIR installs it with `pip install --no-index --no-deps --find-links DIR --target <temporary
folder>` and imports it from there. Without the wheel, or where it does not import (CPU builds have no Triton), its
rows say why they were skipped; so do torch.compile's where it fails. Times are medians of CUDA-event timed steps
after warmup (on the CPU: one thread, in this process's CPU time, so that other load on the machine stays out;
no memory figures there). torch.compile's rows are measured last, after (b), as the slowest to set up; after
--budget-s seconds no new measurement starts, and the skipped ones say so.
"""

import argparse
import datetime
import gc
import importlib
import json
import math
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]
import kernels as kb  # noqa: E402
import memory_plan as mp  # noqa: E402
from sovereign_engine.kernels import linear_cross_entropy, linear_divergence, linear_topk_divergence  # noqa: E402

LIGER_VERSION = "0.8.5"
PEAK_BF16_FLOPS = {"H100": 989.4e12, "H200": 989.4e12}  # dense bf16 tensor-core peak of the SXM parts (data sheets)
CE_TARGET = {"time_vs_three_matmuls": 1.15, "peak_gib": 3.0}
SFT_TARGET = {"tokens_per_s": 1.5, "peak_memory": 0.7}

StepFactory = Callable[[Dict, int, int, torch.device], Callable[[], int]]


@dataclass
class Shapes:
    """Sizes of a run: the GPU's are the real ones, the CPU's small enough for a minute on two cores."""

    hidden: int
    vocab: int
    tokens: List[int]
    dtype: torch.dtype
    chunk_size: int
    topk: int  # teacher ids per token for the top-K divergence
    warmup: int
    repeats: int
    check_tokens: int  # tokens for the chunked-vs-eager error check
    compile_all: bool  # False: torch.compile only cross-entropy at the first size (a compile takes ~20 s on a CPU)
    sft_models: Dict[str, Dict] = field(default_factory=dict)
    sft_seq_len: int = 4096
    sft_micro_batch: int = 1
    clock: Callable[[], float] = time.perf_counter  # times on the CPU (GPU times are CUDA events)
    threads: Optional[int] = None  # torch threads on the CPU; None: torch's default


GPU = Shapes(
    hidden=4096, vocab=mp.VOCAB, tokens=[4096, 8192, 16384], dtype=torch.bfloat16, chunk_size=1024, topk=64,
    warmup=2, repeats=5, check_tokens=1024, compile_all=True,
    sft_models={name: mp.PRESETS[name] for name in ("Qwen3-0.6B", "Qwen3-1.7B")}, sft_seq_len=4096,
)
CPU = Shapes(
    hidden=64, vocab=4096, tokens=[128, 256], dtype=torch.float32, chunk_size=64, topk=16,
    warmup=1, repeats=5, check_tokens=64, compile_all=False,
    sft_models={"Qwen3 layout, 2 layers, H 64, V 8192": dict(
        mp.PRESETS["Qwen3-0.6B"], vocab_size=8192, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16)},
    sft_seq_len=64,
    # One thread timed in this process's CPU time: other load on a shared machine stays out of the figures.
    clock=time.process_time, threads=1,
)


class Budget:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def spent(self) -> bool:
        return time.monotonic() >= self.end


SKIPPED_BUDGET = {"status": "skipped", "reason": "time budget spent"}


# ---------------------------------------------------------------------------------------------------- Liger-Kernel


def load_liger(wheels: Optional[Path]):
    """(liger_kernel.transformers or None, where it came from or why it is missing)."""
    origin = "the environment"
    if wheels is not None:
        found = sorted(wheels.glob(f"liger_kernel-{LIGER_VERSION}-*.whl")) if wheels.is_dir() else []
        if not found:
            return None, (f"no liger_kernel-{LIGER_VERSION} wheel in {wheels} (where the index is reachable: "
                          f"pip download liger-kernel=={LIGER_VERSION} --no-deps -d {wheels})")
        target = tempfile.mkdtemp(prefix="liger-")
        install = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--find-links", str(wheels),
             "--target", target, f"liger-kernel=={LIGER_VERSION}"],
            capture_output=True, text=True,
        )
        if install.returncode != 0:
            return None, f"pip install from {wheels} failed: {(install.stdout + install.stderr).strip()[-300:]}"
        sys.path.insert(0, target)
        origin = f"{found[0].name}, installed into {target}"
    try:
        liger = importlib.import_module("liger_kernel.transformers")
    except Exception as error:  # ImportError, or Triton failing without a GPU
        return None, f"liger_kernel does not import ({origin}): {type(error).__name__}: {error}"
    return liger, f"liger_kernel from {origin}"


# ---------------------------------------------------------------------------------------------------- (a) kernels


def eager_jsd(x, beta=0.5):
    logq = F.log_softmax((x["hidden"] @ x["weight"].t()).float(), dim=-1)
    logp = F.log_softmax((x["teacher_hidden"] @ x["teacher_weight"].t()).float(), dim=-1)
    log_m = torch.logsumexp(torch.stack((logp + math.log(beta), logq + math.log(1 - beta))), dim=0)
    div = beta * (logp.exp() * (logp - log_m)).sum(-1) + (1 - beta) * (logq.exp() * (logq - log_m)).sum(-1)
    return div.mean()


def chunked_jsd(x, chunk_size):
    return linear_divergence(x["hidden"], x["weight"], x["teacher_hidden"], x["teacher_weight"], kind="jsd",
                             beta=0.5, chunk_size=chunk_size)


def eager_topk(x):
    """Forward KL over the teacher's K ids plus a tail bucket, from materialised student log-probs."""
    logq = F.log_softmax((x["hidden"] @ x["weight"].t()).float(), dim=-1)
    ids = x["topk_ids"]
    p_top = x["topk_logprobs"].exp()
    total = p_top.sum(-1, keepdim=True)
    teacher_p = torch.cat((p_top / total.clamp(min=1.0), (1.0 - total).clamp(min=0.0)), -1)
    teacher_logp = teacher_p.clamp(min=torch.finfo(torch.float32).tiny).log()
    tail = torch.logsumexp(logq.scatter(1, ids, float("-inf")), dim=-1, keepdim=True)
    student_logq = torch.cat((logq.gather(1, ids), tail), -1)
    return (teacher_p * (teacher_logp - student_logq)).sum(-1).mean()


def chunked_topk(x, chunk_size):
    return linear_topk_divergence(x["hidden"], x["weight"], x["topk_ids"], x["topk_logprobs"], chunk_size=chunk_size)


# loss -> (eager, chunked, the memory plan's kernel name)
LOSSES = {
    "cross_entropy": (kb.eager_cross_entropy, kb.chunked_cross_entropy, "cross_entropy"),
    "forward_kl": (kb.eager_forward_kl, kb.chunked_forward_kl, "forward_kl"),
    "jsd": (eager_jsd, chunked_jsd, "jsd"),
    "topk_forward_kl": (eager_topk, chunked_topk, "topk"),
    "selected_logprobs": (kb.eager_logprobs, kb.chunked_logprobs, "selected_logprobs"),
}


def liger_losses(liger) -> Dict[str, Callable]:
    if liger is None:
        return {}
    ce, jsd = liger.LigerFusedLinearCrossEntropyLoss(), liger.LigerFusedLinearJSD(jsd_beta=0.5)
    return {
        "cross_entropy": lambda x: ce(x["weight"], x["hidden"], x["labels"]),
        "jsd": lambda x: jsd(x["hidden"], x["weight"], x["teacher_hidden"], x["teacher_weight"], None),
    }


def add_topk_teacher(x, k, seed):
    """K distinct ids per token (a random start, then strides of V // K) holding 90% of the teacher's mass."""
    n, v, device = x["hidden"].shape[0], x["weight"].shape[0], x["hidden"].device
    g = torch.Generator(device=device).manual_seed(seed)
    start = torch.randint(0, v, (n, 1), generator=g, device=device)
    x["topk_ids"] = (start + torch.arange(k, device=device) * (v // k)) % v
    x["topk_logprobs"] = math.log(0.9) + torch.randn(n, k, generator=g, device=device).log_softmax(-1)
    return x


def three_matmuls(x):
    """The matmuls any LM-head loss does: logits = h W^T, then d(logits) W and d(logits)^T h."""
    h, w = x["hidden"].detach(), x["weight"].detach()
    logits = h @ w.t()
    return logits @ w, logits.t() @ h


def guarded(fn, x, device, shapes, budget):
    """kb.measure for code that is not the engine's: a failure (a compile error, say) is reported, not raised."""
    if budget.spent():
        return dict(SKIPPED_BUDGET)
    try:
        return kb.measure(fn, x, device, shapes.warmup, shapes.repeats, shapes.clock)
    except Exception as error:
        kb.clear_grads(x)
        return {"status": "error", "reason": f"{type(error).__name__}: {str(error).strip()[:300]}"}


def inputs(n, weights, shapes: Shapes, device, seed=0):
    return add_topk_teacher(kb.make_inputs(n, weights, device, shapes.dtype, seed + n), shapes.topk, seed + n)


def release(device):
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def kernel_section(device, shapes: Shapes, liger, liger_note: str, budget: Budget, seed=0) -> Dict:
    """Every loss at every size: the three matmuls, the chunked kernel, eager and Liger-Kernel (torch.compile's rows
    come from compile_section, run last as the slowest to set up)."""
    weights = kb.make_weights(shapes.hidden, shapes.vocab, device, shapes.dtype, seed)
    ligers = liger_losses(liger)
    rows = []
    for n in shapes.tokens:
        x = inputs(n, weights, shapes, device, seed)
        matmuls = kb.measure_call(lambda: three_matmuls(x), device, shapes.warmup, shapes.repeats, clock=shapes.clock)
        rows.append({"loss": "three_matmuls", "tokens": n, "impl": "matmuls", **matmuls})
        for name, (eager, chunked, plan_kernel) in LOSSES.items():
            if budget.spent():
                rows += [{"loss": name, "tokens": n, "impl": impl, **SKIPPED_BUDGET} for impl in ("chunked", "eager")]
            else:
                chunked_fn = lambda x: chunked(x, shapes.chunk_size)  # noqa: E731
                result = kb.measure(chunked_fn, x, device, shapes.warmup, shapes.repeats, shapes.clock)
                row = {"loss": name, "tokens": n, "impl": "chunked", **result}
                if shapes.dtype == torch.bfloat16:  # the plan counts the bf16 path's buffers
                    planned = mp.kernel_bytes(plan_kernel, n, shapes.hidden, shapes.vocab, shapes.chunk_size)["peak"]
                    row["planned_gib"] = planned / mp.GIB
                rows.append(row)
                rows.append({"loss": name, "tokens": n, "impl": "eager", **guarded(eager, x, device, shapes, budget)})
            if name in ligers:
                result = guarded(ligers[name], x, device, shapes, budget)
            else:
                reason = "Liger-Kernel has no fused form of this loss" if liger else liger_note
                result = {"status": "skipped", "reason": reason}
            rows.append({"loss": name, "tokens": n, "impl": "liger", **result})
        del x
        release(device)
    check = kb.check(kb.make_inputs(shapes.check_tokens, weights, device, shapes.dtype, seed), shapes.chunk_size)
    return {"rows": rows, "target": ce_target(rows, shapes, device), "check": check,
            "check_tokens": shapes.check_tokens}


def compile_section(section: Dict, device, shapes: Shapes, budget: Budget, seed=0) -> None:
    """torch.compile of each eager loss at each size, added to the kernel section's rows."""
    weights = kb.make_weights(shapes.hidden, shapes.vocab, device, shapes.dtype, seed)
    for name, (eager, _, _) in LOSSES.items():
        fn = torch.compile(eager)
        for n in shapes.tokens:
            if shapes.compile_all or (name == "cross_entropy" and n == shapes.tokens[0]):
                x = inputs(n, weights, shapes, device, seed)
                result = guarded(fn, x, device, shapes, budget)
                del x
                release(device)
            else:
                result = {"status": "skipped",
                          "reason": "--cpu compiles cross-entropy at the first size only (a compile takes ~20 s)"}
            section["rows"].append({"loss": name, "tokens": n, "impl": "compiled", **result})


def find(rows, loss, tokens, impl):
    return next((r for r in rows if (r["loss"], r["tokens"], r["impl"]) == (loss, tokens, impl)), None)


def ce_target(rows, shapes: Shapes, device) -> Dict:
    n = shapes.tokens[-1]
    chunked, matmuls = find(rows, "cross_entropy", n, "chunked"), find(rows, "three_matmuls", n, "matmuls")
    ratio = chunked["ms"] / matmuls["ms"] if chunked.get("ms") and matmuls.get("ms") else None
    result = {"tokens": n, "time_vs_three_matmuls": ratio, "peak_gib": chunked.get("peak_gib"), **{
        f"target_{k}": v for k, v in CE_TARGET.items()}}
    if device.type != "cuda":
        result["verdict"] = "not judged: the target is for an H100 at the Qwen3-8B head"
    elif ratio is None or result["peak_gib"] is None:
        result["verdict"] = "not measured"
    else:
        met = ratio <= CE_TARGET["time_vs_three_matmuls"] and result["peak_gib"] <= CE_TARGET["peak_gib"]
        result["verdict"] = "met" if met else "not met"
    return result


# ---------------------------------------------------------------------------------------------------- (b) SFT step


def autocast(device):
    """bf16 autocast on CUDA as in the engine's forwards; fp32 on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def build(config: Dict, seq_len: int, micro_batch: int, device: torch.device, seed=0):
    """A randomly initialised transformers model (fp32 weights, SDPA attention), AdamW, and a batch of ids."""
    from transformers import AutoConfig, AutoModelForCausalLM

    conf = {k: v for k, v in config.items() if k != "architectures"}
    conf = AutoConfig.for_model(conf.pop("model_type"), attn_implementation="sdpa", **conf)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(conf)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, **({"fused": True} if device.type == "cuda" else {}))
    g = torch.Generator(device=device).manual_seed(seed)
    ids = torch.randint(0, conf.vocab_size, (micro_batch, seq_len), generator=g, device=device)
    return model, optimizer, ids


def transformers_step(config, seq_len, micro_batch, device) -> Callable[[], int]:
    """transformers' own training step: the model's loss from materialised logits (labels shifted inside)."""
    model, optimizer, ids = build(config, seq_len, micro_batch, device)

    def step():
        with autocast(device):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return ids.numel()

    return step


def chunked_ce_step(config, seq_len, micro_batch, device) -> Callable[[], int]:
    """The same model and optimizer with the loss from the engine's chunked cross-entropy kernel on the body's
    hidden states: what the kernel alone changes in a transformers step."""
    model, optimizer, ids = build(config, seq_len, micro_batch, device)
    labels = torch.cat((ids[:, 1:], torch.full_like(ids[:, :1], -100)), 1).reshape(-1)

    def step():
        with autocast(device):
            hidden = model.model(input_ids=ids).last_hidden_state
        hidden, weight = hidden.reshape(-1, hidden.shape[-1]), model.lm_head.weight
        if device.type == "cuda":
            hidden, weight = hidden.to(torch.bfloat16), weight.to(torch.bfloat16)
        linear_cross_entropy(hidden, weight.to(hidden.dtype), labels).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return ids.numel()

    return step


def engine_step(config, seq_len, micro_batch, device) -> Callable[[], int]:
    """The engine's SFT stage as a run builds it, on a one-rank group: the model sharded by FSDP2 (bf16 compute over
    fp32 masters on CUDA), hidden states and the head weight into the chunked kernel, AdamW; the rows are the same
    random ids as the baselines', read as one document each."""
    import torch.distributed as dist

    from sovereign_engine.algorithms import Hyper, RunConfig
    from sovereign_engine.frames import Frame
    from sovereign_engine.models import CausalLM
    from sovereign_engine.parallel import shard
    from sovereign_engine.train import build_stage

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", store=dist.HashStore(), rank=0,
                                world_size=1)
    # The baselines' model (same seed, fp32, sdpa) and ids, built on the CPU and sharded onto the device.
    hf, _, ids = build(config, seq_len, micro_batch, torch.device("cpu"))
    model = shard(CausalLM(hf), device, trainable=True).train()
    labels = torch.cat((ids[:, 1:], torch.full_like(ids[:, :1], -100)), 1)
    positions = torch.arange(seq_len).expand(micro_batch, -1)
    frame = Frame({"role": "train"}, {"input_ids": ids.int(), "labels": labels.int(), "position_ids": positions.int()})

    class Data:
        def batch(self, step, role):
            return frame

    hyper = Hyper.from_dict({"lr": 1e-5, "schedule": "constant", "clipGradNorm": 0})
    stage = build_stage(RunConfig(stage="sft", model={}, total_steps=10**9, hyper=hyper), model, Data(),
                        device=device)
    count = [0]

    def step():
        count[0] += 1
        step.metrics = stage.step(count[0])
        return ids.numel()

    return step


def flops_per_token(config: Dict, seq_len: int) -> float:
    """Training FLOPs per token: 6 x the parameters in matmuls (the head included, tied or not), plus causal
    attention's 6 x layers x seq x heads x head_dim."""
    shape = mp.Shape.from_config(config)
    counts = mp.param_counts(shape)
    matmul = counts["layers"] + shape.vocab * shape.hidden
    return 6 * matmul + 6 * shape.layers * seq_len * shape.q


def peak_flops(device) -> Optional[float]:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)


def measure_step(factory: StepFactory, config, shapes: Shapes, device) -> Dict:
    try:
        step = factory(config, shapes.sft_seq_len, shapes.sft_micro_batch, device)
        for _ in range(shapes.warmup):
            tokens = step()
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(shapes.repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = shapes.clock()
            tokens = step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(shapes.clock() - t0)
        seconds = statistics.median(times)
        peak = torch.cuda.max_memory_allocated() / mp.GIB if device.type == "cuda" else None
        result = {"status": "ok", "ms": seconds * 1e3, "tokens_per_s": tokens / seconds, "peak_gib": peak}
        flops = peak_flops(device)
        result["mfu"] = flops_per_token(config, shapes.sft_seq_len) * result["tokens_per_s"] / flops if flops else None
    except torch.OutOfMemoryError:
        result = {"status": "OOM"}
    except Exception as error:
        result = {"status": "error", "reason": f"{type(error).__name__}: {str(error).strip()[:300]}"}
    step = None
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def sft_section(steps: Dict[str, StepFactory], device, shapes: Shapes, budget: Budget,
                baseline="transformers", judged=("engine",)) -> Dict:
    """Each step factory at each model shape, with tokens/s and peak memory as ratios to the baseline's; steps
    named in `judged` get a verdict against SFT_TARGET."""
    rows = []
    for model_name, config in shapes.sft_models.items():
        results = {}
        for name, factory in steps.items():
            results[name] = dict(SKIPPED_BUDGET) if budget.spent() else measure_step(factory, config, shapes, device)
        base = results.get(baseline, {})
        for name, result in results.items():
            row = {"model": model_name, "seq_len": shapes.sft_seq_len, "micro_batch": shapes.sft_micro_batch,
                   "step": name, **result}
            if name != baseline and result.get("tokens_per_s") and base.get("tokens_per_s"):
                row["tokens_per_s_ratio"] = result["tokens_per_s"] / base["tokens_per_s"]
                if result.get("peak_gib") and base.get("peak_gib"):
                    row["peak_ratio"] = result["peak_gib"] / base["peak_gib"]
            if name in judged:
                if device.type != "cuda" or "peak_ratio" not in row:
                    row["verdict"] = "not judged: needs both steps measured on a GPU"
                else:
                    met = (row["tokens_per_s_ratio"] >= SFT_TARGET["tokens_per_s"]
                           and row["peak_ratio"] <= SFT_TARGET["peak_memory"])
                    row["verdict"] = "met" if met else "not met"
            rows.append(row)
    judged_present = [name for name in judged if name in steps]
    note = None if judged_present else "no engine step given (--engine-step module:function): baseline figures only"
    return {"rows": rows, "target": SFT_TARGET, "note": note}


def load_factory(spec: str) -> StepFactory:
    module, _, attr = spec.partition(":")
    if not attr:
        raise SystemExit(f"--engine-step must be module:function, got {spec!r}")
    return getattr(importlib.import_module(module), attr)


# ---------------------------------------------------------------------------------------------------- report


def fmt(value, spec=".1f"):
    return "-" if value is None else format(value, spec)


def cell(row, key="ms", spec=".1f"):
    return fmt(row.get(key), spec) if row.get("status") == "ok" else row.get("status", "-")


def markdown(report: Dict) -> str:
    env, lines = report["environment"], []
    lines.append(f"# GPU benchmark, {env['date']}")
    lines.append("")
    lines.append(f"`{env['command']}` on {env['device']} ({env['machine']}), torch {env['torch']}, "
                 f"transformers {env['transformers']}; Liger-Kernel: {env['liger']}.")
    if "kernels" in report:
        k = report["kernels"]
        lines += ["", "## (a) LM-head kernels, forward + backward", "",
                  f"H {env['hidden']}, V {env['vocab']}, {env['dtype']}, chunk {env['chunk_size']}. `x eager` is "
                  "eager's time over the row's (above 1: faster than eager); `planned` is memory_plan's peak.", "",
                  "| loss | tokens | impl | ms | x eager | peak GiB | planned GiB | note |",
                  "|---|---|---|---|---|---|---|---|"]
        losses, impls = ["three_matmuls", *LOSSES], ["matmuls", "chunked", "eager", "compiled", "liger"]
        for r in sorted(k["rows"], key=lambda r: (losses.index(r["loss"]), r["tokens"], impls.index(r["impl"]))):
            eager = find(k["rows"], r["loss"], r["tokens"], "eager") or {}
            speed = eager["ms"] / r["ms"] if eager.get("ms") and r.get("ms") else None
            lines.append(f"| {r['loss']} | {r['tokens']} | {r['impl']} | {cell(r)} | {fmt(speed, '.2f')} | "
                         f"{cell(r, 'peak_gib', '.2f')} | {fmt(r.get('planned_gib'), '.2f')} | {r.get('reason', '')} |")
        t = k["target"]
        lines += ["", f"Target (cross-entropy at {t['tokens']} tokens: <= {t['target_time_vs_three_matmuls']}x the "
                  f"three matmuls' time, <= {t['target_peak_gib']} GiB): {fmt(t['time_vs_three_matmuls'], '.2f')}x, "
                  f"{fmt(t['peak_gib'], '.2f')} GiB: **{t['verdict']}**.", "",
                  f"Chunked vs eager at {k['check_tokens']} tokens (max abs error / max abs eager value):", ""]
        for name, parts in k["check"].items():
            lines.append(f"- {name}: " + ", ".join(f"{p} {e['max_rel']:.1e}" for p, e in parts.items()))
    if "sft" in report:
        s = report["sft"]
        lines += ["", "## (b) SFT step", "",
                  f"Target for the engine's step: >= {s['target']['tokens_per_s']}x transformers' tokens/s at <= "
                  f"{s['target']['peak_memory']}x its peak memory." + (f" {s['note']}." if s["note"] else ""), "",
                  "| model | seq | step | ms | tokens/s | MFU | peak GiB | x tokens/s | x peak | verdict | note |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in s["rows"]:
            lines.append(
                f"| {r['model']} | {r['seq_len']} | {r['step']} | {cell(r)} | {cell(r, 'tokens_per_s', '.0f')} | "
                f"{cell(r, 'mfu', '.1%')} | {cell(r, 'peak_gib', '.2f')} | {fmt(r.get('tokens_per_s_ratio'), '.2f')} | "
                f"{fmt(r.get('peak_ratio'), '.2f')} | {r.get('verdict', '')} | {r.get('reason', '')} |")
    return "\n".join(lines) + "\n"


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        name = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
        return f"{name}, {sum(line.startswith('processor') for line in lines)} CPUs"
    except (OSError, StopIteration):
        return platform.machine()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="folder for results.json and results.md (made if missing)")
    p.add_argument("--cpu", action="store_true", help="small shapes on the CPU (no CUDA needed)")
    p.add_argument("--liger-wheels", type=Path, help="install Liger-Kernel from the wheel in this folder first")
    p.add_argument("--engine-step", help="module:function, a step factory measured in place of the engine's SFT step")
    p.add_argument("--sections", nargs="+", choices=["kernels", "sft"], default=["kernels", "sft"])
    p.add_argument("--budget-s", type=float, help="start no measurement after this many seconds (GPU 480, CPU 45)")
    return p.parse_args(argv)


def main(argv=None) -> Dict:
    args = parse_args(argv)
    started = time.monotonic()
    budget = Budget(args.budget_s if args.budget_s is not None else 45 if args.cpu else 480)
    if not args.cpu and not torch.cuda.is_available():
        sys.exit("CUDA is not available; --cpu runs the small shapes on the CPU")
    device, shapes = (torch.device("cpu"), CPU) if args.cpu else (torch.device("cuda"), GPU)
    if shapes.threads:
        torch.set_num_threads(shapes.threads)
    import transformers

    liger, liger_note = load_liger(args.liger_wheels)
    report = {"environment": {
        "date": datetime.date.today().isoformat(),
        "command": " ".join(["python bench/gpu.py", *(sys.argv[1:] if argv is None else argv)]),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
        "machine": f"{cpu_name()}, torch threads: {torch.get_num_threads()}",
        "torch": torch.__version__, "transformers": transformers.__version__, "liger": liger_note,
        "hidden": shapes.hidden, "vocab": shapes.vocab, "dtype": str(shapes.dtype).replace("torch.", ""),
        "chunk_size": shapes.chunk_size,
    }}
    if "kernels" in args.sections:
        report["kernels"] = kernel_section(device, shapes, liger, liger_note, budget)
    if "sft" in args.sections:
        steps: Dict[str, StepFactory] = {
            "transformers": transformers_step, "transformers + chunked CE": chunked_ce_step, "engine": engine_step,
        }
        if args.engine_step:
            steps["engine"] = load_factory(args.engine_step)
        report["sft"] = sft_section(steps, device, shapes, budget)
    if "kernels" in args.sections:
        compile_section(report["kernels"], device, shapes, budget)
    report["environment"]["seconds"] = round(time.monotonic() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    text = markdown(report)
    (args.out / "results.md").write_text(text)
    print(text)
    print(f"wrote {args.out / 'results.json'} and results.md in {report['environment']['seconds']} s")
    return report


if __name__ == "__main__":
    main()
