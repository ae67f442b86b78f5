"""Benchmark of the chunked LM-head losses against eager PyTorch on materialised logits: fwd+bwd time and peak memory.

    python bench/kernels.py                                  # Qwen3-8B head (H=4096, V=151936), bf16, N in 4k/8k/16k
    python bench/kernels.py --check --json kernels.json      # also max error of chunked vs eager at --check-tokens
    python bench/kernels.py --device cpu --tokens 64 --hidden 32 --vocab 1000 --chunk-size 16   # smoke run

Eager baselines materialise the [N, V] logits: F.cross_entropy on fp32 logits, F.kl_div between fp32
log-softmaxes (batchmean) for forward KL(teacher || student), and a gathered fp32 log_softmax for selected
log-probs. Times are medians of CUDA-event timed fwd+bwd steps after warmup; peak memory is
max_memory_allocated minus what was allocated before the step (inputs and weights excluded, gradients included).
"""

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sovereign_engine.kernels import (  # noqa: E402
    DEFAULT_CHUNK_SIZE, linear_cross_entropy, linear_divergence, linear_selected_logprobs,
)

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def eager_cross_entropy(x):
    return F.cross_entropy((x["hidden"] @ x["weight"].t()).float(), x["labels"])


def chunked_cross_entropy(x, chunk_size):
    return linear_cross_entropy(x["hidden"], x["weight"], x["labels"], chunk_size=chunk_size)


def eager_forward_kl(x):
    student = F.log_softmax((x["hidden"] @ x["weight"].t()).float(), dim=-1)
    teacher = F.log_softmax((x["teacher_hidden"] @ x["teacher_weight"].t()).float(), dim=-1)
    return F.kl_div(student, teacher, log_target=True, reduction="batchmean")


def chunked_forward_kl(x, chunk_size):
    return linear_divergence(
        x["hidden"], x["weight"], x["teacher_hidden"], x["teacher_weight"], kind="forward_kl", chunk_size=chunk_size
    )


def eager_logprobs(x):
    logp = F.log_softmax((x["hidden"] @ x["weight"].t()).float(), dim=-1)
    # Weighting by fixed per-token coefficients gives backward a per-token grad_output, as in GRPO.
    return (logp.gather(1, x["labels"][:, None]).squeeze(1) * x["coef"]).sum()


def chunked_logprobs(x, chunk_size):
    logprobs = linear_selected_logprobs(x["hidden"], x["weight"], x["labels"], chunk_size=chunk_size)
    return (logprobs * x["coef"]).sum()


LOSSES = {
    "cross_entropy": (eager_cross_entropy, chunked_cross_entropy),
    "forward_kl": (eager_forward_kl, chunked_forward_kl),
    "selected_logprobs": (eager_logprobs, chunked_logprobs),
}


def make_inputs(n, weights, device, dtype, seed):
    g = torch.Generator(device=device).manual_seed(seed)
    hidden_size, vocab = weights["weight"].shape[1], weights["weight"].shape[0]
    randn = lambda *shape: torch.randn(*shape, generator=g, device=device, dtype=dtype)
    return {
        **weights,
        "hidden": randn(n, hidden_size).requires_grad_(),
        "teacher_hidden": randn(n, hidden_size),
        "labels": torch.randint(0, vocab, (n,), generator=g, device=device),
        "coef": torch.randn(n, generator=g, device=device),
    }


def make_weights(hidden_size, vocab, device, dtype, seed):
    g = torch.Generator(device=device).manual_seed(seed)
    scale = hidden_size**-0.5
    weight = (torch.randn(vocab, hidden_size, generator=g, device=device, dtype=dtype) * scale).requires_grad_()
    teacher_weight = torch.randn(vocab, hidden_size, generator=g, device=device, dtype=dtype) * scale
    return {"weight": weight, "teacher_weight": teacher_weight}


def step(loss_fn, x):
    clear_grads(x)
    loss_fn(x).backward()


def clear_grads(x):
    x["hidden"].grad = x["weight"].grad = None


def is_oom(error):
    # cuBLAS reports a failed workspace allocation under memory pressure as its own error.
    return "out of memory" in str(error) or "CUBLAS_STATUS_ALLOC_FAILED" in str(error)


def peak_extra_gib(run, device):
    if device.type != "cuda":
        run()
        return None
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    run()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - before) / 2**30


def median_ms(run, device, warmup, repeats, clock=time.perf_counter):
    """Median ms of `run` after warmup: CUDA events on a GPU, else `clock` (time.process_time leaves other
    processes' load out)."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = clock()
            run()
            times.append((clock() - t0) * 1e3)
    return statistics.median(times)


def measure_call(run, device, warmup, repeats, reset=lambda: None, clock=time.perf_counter):
    """{"status", "ms", "peak_gib"} of a zero-argument step; an out-of-memory step is reported, not raised.
    `reset` drops what the step left behind (gradients) before memory is freed."""
    result = {"status": "ok", "ms": None, "peak_gib": None}
    try:
        result["peak_gib"] = peak_extra_gib(run, device)
        result["ms"] = median_ms(run, device, warmup, repeats, clock)
    except RuntimeError as error:
        if not is_oom(error):
            raise
        result["status"] = "OOM"
    # Only here, outside the except block, are the failed step's tensors unreachable and freeable.
    reset()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def measure(loss_fn, x, device, warmup, repeats, clock=time.perf_counter):
    """measure_call of one fwd+bwd step of a loss on the inputs x."""
    return measure_call(lambda: step(loss_fn, x), device, warmup, repeats, reset=lambda: clear_grads(x), clock=clock)


def value_and_grads(loss_fn, x):
    x["hidden"].grad = x["weight"].grad = None
    loss = loss_fn(x)
    loss.backward()
    grads = (x["hidden"].grad.float(), x["weight"].grad.float())
    x["hidden"].grad = x["weight"].grad = None
    return loss.detach().float(), grads


def check(x, chunk_size):
    """Max abs and scale-relative error of the chunked kernels against eager, per loss, on the same inputs."""
    report = {}
    for name, (eager, chunked) in LOSSES.items():
        want = value_and_grads(eager, x)
        got = value_and_grads(lambda x: chunked(x, chunk_size), x)
        report[name] = {}
        for part, w, g in zip(("loss", "grad_hidden", "grad_weight"), (want[0], *want[1]), (got[0], *got[1])):
            abs_err = (g - w).abs().max().item()
            report[name][part] = {"max_abs": abs_err, "max_rel": abs_err / max(w.abs().max().item(), 1e-30)}
    return report


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def print_table(rows):
    header = (
        f"{'loss':<18} {'tokens':>7} {'eager ms':>9} {'chunked ms':>10} {'speedup':>7} {'eager GiB':>9} "
        f"{'chunked GiB':>11}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        eager, chunked = row["eager"], row["chunked"]
        eager_ms = "OOM" if eager["status"] == "OOM" else fmt(eager["ms"], ".1f")
        eager_gib = "OOM" if eager["status"] == "OOM" else fmt(eager["peak_gib"], ".2f")
        chunked_ms = "OOM" if chunked["status"] == "OOM" else fmt(chunked["ms"], ".1f")
        chunked_gib = "OOM" if chunked["status"] == "OOM" else fmt(chunked["peak_gib"], ".2f")
        speedup = eager["ms"] / chunked["ms"] if eager["ms"] and chunked["ms"] else None
        print(
            f"{row['loss']:<18} {row['tokens']:>7} {eager_ms:>9} {chunked_ms:>10} {fmt(speedup, '.2f'):>7} "
            f"{eager_gib:>9} {chunked_gib:>11}"
        )


def print_check(report, tokens):
    print(f"\nchunked vs eager at N={tokens} (max_rel = max abs error / max abs eager value)")
    for name, parts in report.items():
        cells = "  ".join(f"{part} abs {e['max_abs']:.2e} rel {e['max_rel']:.2e}" for part, e in parts.items())
        print(f"  {name:<18} {cells}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, nargs="+", default=[4096, 8192, 16384], help="token counts N to run")
    p.add_argument("--hidden", type=int, default=4096, help="hidden size H (Qwen3-8B: 4096)")
    p.add_argument("--vocab", type=int, default=151936, help="vocabulary size V (Qwen3: 151936)")
    p.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="rows per chunk for the chunked kernels")
    p.add_argument("--repeats", type=int, default=10, help="timed fwd+bwd steps per measurement (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before timing")
    p.add_argument("--losses", nargs="+", choices=list(LOSSES), default=list(LOSSES), help="losses to run")
    p.add_argument("--dtype", choices=list(DTYPES), default="bf16", help="dtype of hidden states and weights")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu for a smoke run at small sizes")
    p.add_argument("--check", action="store_true", help="also report chunked vs eager errors at --check-tokens")
    p.add_argument("--check-tokens", type=int, default=1024, help="token count for --check")
    p.add_argument("--json", type=Path, help="write config and results to this JSON file")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(
            "CUDA is not available: this benchmark measures GPU time and memory. For a smoke run of the script "
            "itself use e.g. --device cpu --tokens 64 --hidden 32 --vocab 1000 --chunk-size 16 --repeats 2"
        )
    dtype = DTYPES[args.dtype]
    config = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "dtype": args.dtype,
        "hidden": args.hidden,
        "vocab": args.vocab,
        "chunk_size": args.chunk_size,
        "repeats": args.repeats,
        "warmup": args.warmup,
    }
    print(", ".join(f"{k}={v}" for k, v in config.items()))
    weights = make_weights(args.hidden, args.vocab, device, dtype, args.seed)

    rows = []
    for n in args.tokens:
        x = make_inputs(n, weights, device, dtype, args.seed + n)
        for name in args.losses:
            eager, chunked = LOSSES[name]
            row = {"loss": name, "tokens": n}
            row["eager"] = measure(eager, x, device, args.warmup, args.repeats)
            row["chunked"] = measure(lambda x: chunked(x, args.chunk_size), x, device, args.warmup, args.repeats)
            rows.append(row)
        del x
    print()
    print_table(rows)

    report = None
    if args.check:
        report = check(make_inputs(args.check_tokens, weights, device, dtype, args.seed), args.chunk_size)
        print_check(report, args.check_tokens)
    if args.json:
        args.json.write_text(json.dumps({"config": config, "results": rows, "check": report}, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
