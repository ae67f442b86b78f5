"""Rollout throughput: the engine's sampler against transformers' `generate`, and against the sampler it replaced.

GRPO's layout: `--prompts` prompts of seeded lengths in [`--min-len`, `--max-len`], each repeated `--group` times
consecutively, one seed per sample. The model is a Qwen3 with the real 151,936-row vocabulary at a small width
(`--hidden`, `--layers`; wider than the test models so that a decode step is not all overhead), drawn from a
seed. Its near-uniform next-token distribution would never draw a single eos, so `--stop-every` N makes 1 id in N
a stop id (for generate, eos ids): completions end at spread lengths, as rollouts do.

Contenders, all with the same temperature, top-p (no top-k) and max_new_tokens:

- engine: `sample()` as GRPO calls it (one prefill per distinct prompt, finished rows leaving the batch);
- engine-budget: the same with `max_batch_tokens` at a quarter of the whole batch's cache (micro-batches);
- legacy: the sampler before these changes (every copy prefilled, finished rows stepping to the end), kept here
  only; it draws the same completions as the engine, which the script checks;
- generate: `model.generate(do_sample=True, top_k=0, ...)` on the left-padded batch, transformers' own sampling.

Throughput is generated tokens (each completion up to and including its stop) per second of the process's CPU
time on one thread (the machine may be shared); each round runs every contender once, in a rotating order, after
one warm-up run each, and the report gives each contender's median tokens/s and the median over rounds of its
ratio to generate's (and to legacy's) in the same round.

With `--device cuda` (or `auto` on a machine with CUDA) the model is bf16 on the GPU, time is wall time around
synchronised runs, and `--compile` adds engine-compiled (`sample(compile=True)`).

    python bench/rollout_cpu.py [--prompts 8 --group 8 --min-len 32 --max-len 192 --max-new 64 --top-p 1.0 --rounds 3]
        [--device cpu|cuda|auto] [--compile] [--json out]
"""

import argparse
import json
import os
import statistics
import sys
import time
from typing import Callable, Dict, List, Sequence

import torch

ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ENGINE_DIR not in sys.path:
    sys.path.insert(0, ENGINE_DIR)

from sovereign_engine.models import TINY_CONFIGS, init_model  # noqa: E402
from sovereign_engine.sampler import RolloutCache, _choose, compute_dtype, sample  # noqa: E402

SEED = 0
TOKENS = 151669  # the Qwen3 tokenizer's ids; the rows past them are never prompts


@torch.no_grad()
def legacy_sample(model, prompts, *, max_new_tokens, temperature, top_p, stop_ids, seeds, pad_id=0):
    """The sampler as it was: one left-padded batch of every row, finished rows stepping until all are done."""
    weight = model.lm_head_weight()
    device = weight.device
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
    tokens, done = [], torch.zeros(B, dtype=torch.bool, device=device)
    emitted = torch.zeros(B, dtype=torch.long, device=device)
    for t in range(max_new_tokens):
        hidden = model(ids, positions, attention_mask=mask, past_key_values=cache)[:, -1]
        logits = model.logits(hidden)
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
        token, _ = _choose(logits, temperature, top_p, uniforms[:, t])
        tokens.append(token)
        emitted += (~done).long()
        done |= torch.isin(token, stop)
        if bool(done.all()):
            break
        ids, positions = token[:, None], positions[:, -1:] + 1
        mask = torch.cat((mask, torch.ones_like(mask[:, :1])), 1)
    return [row[:n] for row, n in zip(torch.stack(tokens, 1).tolist(), emitted.tolist())]


def workload(args):
    g = torch.Generator().manual_seed(SEED)
    lengths = torch.randint(args.min_len, args.max_len + 1, (args.prompts,), generator=g).tolist()
    distinct = [torch.randint(0, TOKENS, (n,), generator=g).tolist() for n in lengths]
    prompts = [p for p in distinct for _ in range(args.group)]
    seeds = torch.randint(0, 2**62, (len(prompts),), generator=g).tolist()
    # --stop-every 0: a single stop id, the last padding row (as unlikely as any id, and the same for all).
    stop_ids = list(range(args.stop_every - 1, TOKENS, args.stop_every)) if args.stop_every else [151935]
    return prompts, seeds, stop_ids


def build_model(args, device):
    from transformers import AutoConfig

    fields = dict(TINY_CONFIGS["tiny"])
    fields.update(
        hidden_size=args.hidden, intermediate_size=3 * args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.hidden // 32, num_key_value_heads=max(1, args.hidden // 64), head_dim=32,
    )
    config = AutoConfig.for_model(fields.pop("model_type"), **fields)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    return init_model(config, SEED, device=device, dtype=dtype).eval()


def until_stop(row: Sequence[int], stops: set) -> List[int]:
    for i, token in enumerate(row):
        if token in stops:
            return list(row[: i + 1])
    return list(row)


def contenders(args, model, prompts, seeds, stop_ids) -> Dict[str, Callable[[], List[List[int]]]]:
    draw = dict(max_new_tokens=args.max_new, temperature=args.temperature, top_p=args.top_p, stop_ids=stop_ids)
    device = model.lm_head_weight().device
    width = max(len(p) for p in prompts) + args.max_new
    stops = set(stop_ids)

    def engine(**extra):
        return lambda: [c.tokens for c in sample(model, prompts, seeds=seeds, **draw, **extra)]

    def legacy():
        return legacy_sample(model, prompts, seeds=seeds, **draw)

    ids = torch.zeros(len(prompts), max(len(p) for p in prompts), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):
        ids[i, ids.shape[1] - len(p) :] = torch.tensor(p)
        mask[i, ids.shape[1] - len(p) :] = 1
    ids, mask = ids.to(device), mask.to(device)

    def generate():
        out = model.hf.generate(
            input_ids=ids, attention_mask=mask, do_sample=True, temperature=args.temperature, top_p=args.top_p,
            top_k=0, max_new_tokens=args.max_new, eos_token_id=stop_ids, pad_token_id=0,
        )
        return [until_stop(row, stops) for row in out[:, ids.shape[1] :].tolist()]

    runs = {
        "engine": engine(),
        "engine-budget": engine(max_batch_tokens=len(prompts) * width // 4),
        "legacy": legacy,
        "generate": generate,
    }
    if args.compile:
        runs["engine-compiled"] = engine(compile=True)
    return runs


def timed(run, device) -> tuple:
    if device.type == "cuda":
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = run()
        torch.cuda.synchronize()
        return out, time.perf_counter() - start
    start = time.process_time()
    out = run()
    return out, time.process_time() - start


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--min-len", type=int, default=32)
    p.add_argument("--max-len", type=int, default=192)
    p.add_argument("--max-new", type=int, default=64)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--stop-every", type=int, default=64, help="1 id in N is a stop id; 0: one")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    p.add_argument("--compile", action="store_true", help="also sample(compile=True) (meant for CUDA)")
    p.add_argument("--json", help="write the figures here")
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                          else "cpu")
    model = build_model(args, device)
    prompts, seeds, stop_ids = workload(args)
    runs = contenders(args, model, prompts, seeds, stop_ids)
    names = list(runs)
    outputs = {name: runs[name]() for name in names}  # warm-up
    assert outputs["legacy"] == outputs["engine"] == outputs["engine-budget"], "the engine left the legacy draws"
    rates: Dict[str, List[float]] = {name: [] for name in names}
    ratios: Dict[str, List[float]] = {name: [] for name in names}
    legacy_ratios: Dict[str, List[float]] = {name: [] for name in names}
    lengths: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        this = {}
        for name in order:
            out, seconds = timed(runs[name], device)
            tokens = sum(len(row) for row in out)
            this[name] = tokens / seconds
            lengths[name].append(tokens / len(out))
            print(f"round {r} {name}: {tokens} tokens in {seconds:.2f} s, {this[name]:.1f} tokens/s", flush=True)
        for name in names:
            rates[name].append(this[name])
            ratios[name].append(this[name] / this["generate"])
            legacy_ratios[name].append(this[name] / this["legacy"])
    report = {
        "device": str(device), "rows": len(prompts), "threads": args.threads,
        "args": {k: v for k, v in vars(args).items() if k != "json"},
        "results": {
            name: {
                "tokens_per_s": statistics.median(rates[name]),
                "vs_generate": statistics.median(ratios[name]),
                "vs_legacy": statistics.median(legacy_ratios[name]),
                "mean_completion": statistics.mean(lengths[name]),
            }
            for name in names
        },
    }
    print(json.dumps(report, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
