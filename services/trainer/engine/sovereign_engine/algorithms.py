"""Training stages (SFT, on-policy distillation, GRPO, InK-GRPO) and the run configuration they read.

A stage runs one step at a time: `stage.step(step)` fetches this rank's share of the step's batch from a
DataSource, runs forward and backward over its micro-batches, steps the optimizer and the schedule, and returns the
step's metrics. Every loss is a token mean over all ranks, of the whole step (of an update's mini-batch in GRPO):
each micro-batch's sum is divided by that token count over all ranks (counted first), so neither the number of
micro-batches nor the number of ranks, nor how the tokens fall on them, changes the update. Metrics are run-wide:
sums are summed over ranks and means divided by the run-wide counts, so every rank reports the same values.
Forwards run under bf16 autocast on CUDA and in fp32 on the CPU; the LM-head kernels then get bf16 hidden states
and head weights on CUDA (the same math in forward and backward), fp32 on the CPU.

Random draws are functions of the run's seed and the step (and, for sampling, of the prompt's position in the
step's prompts over all ranks and of the sample's index in its group), never of the rank: a run samples the same
rollouts on any number of ranks, and a resumed run replays them.
"""

import hashlib
import keyword
import math
import re
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .client import DataSource, RewardSource, Rollout
from .frames import Frame
from .kernels import (
    DEFAULT_CHUNK_SIZE, linear_cross_entropy, linear_divergence, linear_selected_logprobs, linear_topk_divergence,
)
from .kernels.linear_divergence import KINDS
from .models import ATTENTION
from .optim import accumulate_gradients, clip_grad_norm, current_lr, micro_batches
from .parallel import all_sum, gather_counts, gathered, release, world_size
from .agentic import agentic_rollouts
from .sampler import sample


# How group_advantages scales r - mean: by the group's population std, its sample std, or not at all.
ADVANTAGE_STD = ("population", "sample", "none")


def _snake(name: str) -> str:
    """camelCase JSON key to a field name: "warmupSteps" -> "warmup_steps", "lambda" -> "lambda_"."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return name + "_" if keyword.iskeyword(name) else name


@dataclass
class Hyper:
    """The run's `hyper` object; JSON keys are the camelCase of these names (`lambda` for lambda_)."""

    # optimizer and schedule
    lr: float = 1e-5  # peak learning rate
    warmup_steps: int = 0  # linear warmup from lr / warmup_steps
    schedule: str = "cosine"  # "cosine": decay to min_lr_ratio * lr at the last step; "constant"
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0  # on weight matrices only
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    adam_eps: float = 1e-8
    clip_grad_norm: float = 1.0  # 0: no clipping (the norm is still reported)
    grad_accum: int = 1  # micro-batches each step's rows (GRPO: each mini-batch's rollouts) are split into, per rank
    gradient_checkpointing: bool = False  # recompute each decoder layer's activations in backward
    cpu_offload: bool = False  # the trained model's parameters, gradients and AdamW state in host memory (CUDA)
    attention: str = "auto"  # attn_implementation; "auto": flash_attention_2 on CUDA if it imports, else sdpa
    checkpoint_every: int = 0  # steps between checkpoints; 0: only at the end
    # sampling (OPD's on-policy batches, GRPO's rollouts)
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256  # new tokens per completion
    stop_ids: Optional[List[int]] = None  # None: the run's stopIds, else the checkpoint's eos ids
    rollout_batch_tokens: int = 0  # cache positions per decode micro-batch (rows x (prompt + maxTokens)); 0: one batch
    rollout_compile: bool = False  # decode steps through torch.compile on a static cache (CUDA graphs on CUDA)
    # OPD (defaults: the Typhoon-S release's OPD config, --lmbda 0.25 --beta 0.0)
    lambda_: float = 0.25  # probability that an example is the student's own completion, not the dataset's
    divergence: str = "forward_kl"  # "forward_kl" (KL(teacher || student)), "reverse_kl" or "jsd"
    beta: float = 0.0  # jsd's teacher weight, TRL GKD's convention: 0 is forward KL, 1 reverse KL
    top_k: int = 0  # 0: the teacher's full distribution; K: its top-K plus a tail bucket
    teacher_offload: bool = False  # frozen models (OPD's teacher, GRPO's reference) in host memory (CUDA)
    # GRPO
    group_size: int = 8  # samples per prompt
    eps_low: float = 0.2  # ratio clip range [1 - eps_low, 1 + eps_high]
    eps_high: float = 0.2
    kl_coef: float = 0.0  # weight of the k3 KL to the reference model; 0: no reference forward at all
    ppo_epochs: int = 1  # passes over the step's rollouts
    mini_batch_size: int = 0  # rollouts per optimizer update over all ranks; 0: all the step's rollouts
    dual_clip: float = 0.0  # c > 1: a negative advantage's per-token loss is capped at -c A (dual-clip PPO); 0: off
    advantage_std: str = "population"  # the group std advantages are divided by: "population", "sample" or "none"
    # InK-GRPO
    ce_coef: float = 0.1  # lambda: weight of the in-domain next-token loss
    ce_prob: float = 0.6  # rho: probability that an update includes it

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Hyper":
        names = {f.name for f in fields(cls)}
        unknown = sorted(k for k in d if _snake(k) not in names)
        if unknown:
            raise ValueError(f"unknown hyper setting(s) {unknown}")
        hyper = cls(**{_snake(k): v for k, v in d.items()})
        checks = [
            (hyper.schedule in ("cosine", "constant"),
             f"schedule must be 'cosine' or 'constant', got {hyper.schedule!r}"),
            (hyper.divergence in KINDS, f"divergence must be one of {KINDS}, got {hyper.divergence!r}"),
            (hyper.attention in ATTENTION, f"attention must be one of {ATTENTION}, got {hyper.attention!r}"),
            (0.0 <= hyper.lambda_ <= 1.0, f"lambda must be in [0, 1], got {hyper.lambda_}"),
            (0.0 <= hyper.ce_prob <= 1.0, f"ceProb must be in [0, 1], got {hyper.ce_prob}"),
            (min(hyper.grad_accum, hyper.group_size, hyper.ppo_epochs) >= 1,
             f"gradAccum ({hyper.grad_accum}), groupSize ({hyper.group_size}) and ppoEpochs ({hyper.ppo_epochs}) "
             "must be at least 1"),
            (hyper.rollout_batch_tokens >= 0,
             f"rolloutBatchTokens must be 0 (no budget) or more, got {hyper.rollout_batch_tokens}"),
            (hyper.mini_batch_size >= 0, f"miniBatchSize must be 0 (all the step's rollouts) or more, got "
             f"{hyper.mini_batch_size}"),
            (hyper.dual_clip == 0 or hyper.dual_clip > 1,
             f"dualClip must be 0 (off) or above 1, got {hyper.dual_clip}"),
            (hyper.advantage_std in ADVANTAGE_STD,
             f"advantageStd must be one of {ADVANTAGE_STD}, got {hyper.advantage_std!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return hyper


@dataclass
class RunConfig:
    """The run as `GET /config` returns it (camelCase keys); keys this engine does not use are ignored."""

    stage: str  # "sft" | "opd" | "grpo" | "ink-grpo"
    model: Dict[str, Any]  # {"path": HF checkpoint dir} or {"tiny": named config, "seed": n}
    total_steps: int
    hyper: Hyper = field(default_factory=Hyper)
    seed: int = 0
    seq_len: int = 0  # tokens per packed row; the frames carry their own shapes
    teacher: Optional[Dict[str, Any]] = None  # OPD: same shape as model, or {"endpoint": {"name", "baseUrl", ...}}
    reference: Optional[Dict[str, Any]] = None  # GRPO with klCoef > 0; None: the starting model
    resume: Optional[Dict[str, Any]] = None  # {"step", "path"} of the checkpoint to continue from
    checkpoint_dir: str = "checkpoints"
    tokenizer_vocab: Optional[int] = None  # ids the tokenizer knows; sampling never draws an id past them
    stop_ids: Optional[List[int]] = None  # the chat template's end-of-turn ids; None: the checkpoint's eos ids
    tools: Optional[Dict[str, Any]] = None  # GRPO with tools: {"names", "maxTurns", "maxToolTokens"}; None: off

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "RunConfig":
        names = {f.name for f in fields(cls)}
        values = {_snake(k): v for k, v in d.items() if _snake(k) in names}
        missing = [key for key in ("stage", "model", "totalSteps") if _snake(key) not in values]
        if missing:
            raise ValueError(f"run config lacks {missing}")
        values["hyper"] = Hyper.from_dict(d.get("hyper") or {})
        if values.get("stage") not in STAGES:
            raise ValueError(f"stage must be one of {sorted(STAGES)}, got {values.get('stage')!r}")
        tools = values.get("tools")
        if tools is not None:
            if values["stage"] not in ("grpo", "ink-grpo"):
                raise ValueError(f"tools are for GRPO stages, not {values['stage']!r}")
            turns = tools.get("maxTurns") if isinstance(tools, dict) else None
            if not isinstance(turns, int) or isinstance(turns, bool) or turns < 1:
                raise ValueError(f"tools.maxTurns must be an integer of at least 1, got {turns!r}")
        return cls(**values)


def autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def head_inputs(hidden: torch.Tensor, weight: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Flat hidden states [N, H] and the head weight for the loss kernels, in one dtype: bf16 on CUDA."""
    hidden = hidden.reshape(-1, hidden.shape[-1])
    if hidden.is_cuda:
        return hidden.to(torch.bfloat16), weight.to(torch.bfloat16)
    return hidden.to(weight.dtype), weight


def build_rows(prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], pad_id: int = 0,
               masks: Optional[Sequence[Optional[Sequence[int]]]] = None):
    """Right-padded rows prompt + completion [B, L] and next-token targets [B, L] that are -100 except at the
    positions predicting a completion token (with `masks`, a completion token whose mask is 0, such as a tool
    result appended to a multi-turn rollout, is not a target either). Right padding needs no attention mask:
    causal attention never lets a real token see the padding after it."""
    seqs = [list(p) + list(c) for p, c in zip(prompts, completions)]
    length = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    targets = torch.full((len(seqs), length), -100, dtype=torch.long)
    for i, (p, c, s) in enumerate(zip(prompts, completions, seqs)):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        if c:
            row = torch.tensor(list(c), dtype=torch.long)
            mask = masks[i] if masks is not None else None
            if mask is not None:
                if len(mask) != len(c):
                    raise ValueError(f"completion {i} has {len(c)} tokens and a mask of {len(mask)}")
                row = row.masked_fill(torch.tensor(list(mask)) == 0, -100)
            targets[i, len(p) - 1 : len(s) - 1] = row
    return ids, targets


@dataclass
class PackedRollouts:
    """Rollouts laid end to end in one row, prompt then completion each, with position ids restarting at 0 for each
    rollout: transformers keeps them apart (models.py), so a forward computes what each rollout alone would, and no
    padding is computed (sdpa and eager still compute attention over the whole row under a block-diagonal mask;
    flash-attention and flex_attention only over each rollout's block). `targets` is -100 except at the positions
    predicting a trained completion token.

    Per-token values of the completions (old log-probs, advantages) travel flat, rollout after rollout, one value per
    completion token: `spread` puts them at their positions in the row, `gather` takes them back out.
    """

    ids: torch.Tensor  # [1, L]
    targets: torch.Tensor  # [1, L]
    position_ids: torch.Tensor  # [1, L]
    completion_positions: torch.Tensor  # [C]: the row position predicting each completion token
    completion_lengths: List[int]  # per rollout; C is their sum

    def to(self, device: torch.device) -> "PackedRollouts":
        return PackedRollouts(self.ids.to(device), self.targets.to(device), self.position_ids.to(device),
                              self.completion_positions.to(device), self.completion_lengths)

    def per_token(self, values: torch.Tensor) -> torch.Tensor:
        """One value per rollout [n] repeated for each of its completion tokens: [C]."""
        lengths = torch.tensor(self.completion_lengths, device=values.device)
        return values.repeat_interleave(lengths)

    def spread(self, values: torch.Tensor) -> torch.Tensor:
        """Completion-token values [C] at their positions in the row [1, L], 0 elsewhere."""
        row = torch.zeros(self.ids.numel(), dtype=values.dtype, device=values.device)
        return row.index_copy(0, self.completion_positions.to(values.device), values).view(self.ids.shape)

    def gather(self, row: torch.Tensor) -> torch.Tensor:
        """The completion-token values [C] of a row-shaped tensor [1, L]."""
        return row.reshape(-1).index_select(0, self.completion_positions.to(row.device))


def pack_rollouts(prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]],
                  masks: Optional[Sequence[Optional[Sequence[int]]]] = None) -> PackedRollouts:
    """The rollouts (prompt i + completion i) packed into one row. masks[i], when given, holds a 0 or 1 per token of
    completion i: a 0 keeps that token out of the targets (a tool's output inside a completion, which the policy did
    not choose); None, or masks[i] None, trains every completion token."""
    if len(prompts) != len(completions) or (masks is not None and len(masks) != len(completions)):
        raise ValueError(f"{len(prompts)} prompts, {len(completions)} completions and "
                         f"{'no' if masks is None else len(masks)} masks: one of each per rollout")
    ids: List[int] = []
    targets: List[int] = []
    positions: List[int] = []
    where: List[int] = []
    for i, (prompt, completion) in enumerate(zip(prompts, completions)):
        if not prompt:
            raise ValueError(f"rollout {i} has an empty prompt: its first completion token would have no position")
        mask = None if masks is None else masks[i]
        if mask is not None and (len(mask) != len(completion) or any(m not in (0, 1) for m in mask)):
            raise ValueError(f"rollout {i}'s mask must hold a 0 or 1 per completion token ({len(completion)}), "
                             f"got {list(mask)}")
        start, sequence = len(ids), list(prompt) + list(completion)
        ids += sequence
        positions += range(len(sequence))
        targets += [-100] * len(sequence)
        for t, token in enumerate(completion):
            at = start + len(prompt) - 1 + t  # the position whose next token is completion token t
            where.append(at)
            if mask is None or mask[t]:
                targets[at] = int(token)
    row = partial(torch.tensor, dtype=torch.long)
    return PackedRollouts(row([ids]), row([targets]), row([positions]), row(where),
                          [len(c) for c in completions])


def group_advantages(rewards: torch.Tensor, group_size: int, std: str = "population") -> torch.Tensor:
    """(r - mean) / (std + 1e-6) within each group of group_size consecutive rewards.

    std "population" divides by the population std (a group of one is defined); "sample" by the Bessel-corrected
    std, as torch.std, verl's GRPO (norm_adv_by_std_in_grpo, the default, with 1e-6) and TRL's scale_rewards="group"
    (with 1e-4) do; "none" only subtracts the mean, as Dr. GRPO, verl's norm_adv_by_std_in_grpo=False and TRL's
    scale_rewards="none" do. A group whose rewards are all equal teaches nothing: its advantages are exactly 0, not
    the rounding residue of r - mean."""
    if std not in ADVANTAGE_STD:
        raise ValueError(f"advantageStd must be one of {ADVANTAGE_STD}, got {std!r}")
    r = rewards.float().view(-1, group_size)
    advantages = r - r.mean(1, keepdim=True)
    if std != "none" and group_size > 1:
        advantages = advantages / (r.std(1, unbiased=std == "sample", keepdim=True) + 1e-6)
    return advantages.masked_fill((r == r[:, :1]).all(1, keepdim=True), 0.0).view(-1)


@torch.no_grad()
def teacher_topk(hidden: torch.Tensor, weight: torch.Tensor, k: int, chunk_size: int = DEFAULT_CHUNK_SIZE):
    """Top-k ids [N, k] and fp32 log-probs [N, k] of softmax(hidden @ weight.T), chunk_size rows at a time so
    the [N, V] logits never exist at once."""
    ids = torch.empty(0, k, dtype=torch.long, device=hidden.device)
    logprobs = torch.empty(0, k, dtype=torch.float32, device=hidden.device)
    for rows in hidden.split(chunk_size):
        top = (rows @ weight.t()).float().log_softmax(-1).topk(k, dim=-1)
        ids, logprobs = torch.cat((ids, top.indices)), torch.cat((logprobs, top.values))
    return ids, logprobs


def frozen(model):
    """A model made eval-mode and gradient-free; a served teacher (not a module) has nothing to freeze."""
    if isinstance(model, nn.Module):
        model.eval().requires_grad_(False)
    return model


class Stage:
    """Shared machinery: forwards, cross-entropy micro-batches, sampling, the optimizer update, saved state.

    The models are FSDP-sharded in a run (train.py) and plain modules in unit tests; the same code drives both.
    Every rank must make the same sequence of forwards and backwards, as each one all-gathers and reduce-scatters
    the units' parameters and gradients: the ranks hold as many rows each (checked as the step's tokens are
    counted) and take the same branches (from draws of the step, not the rank).
    """

    def __init__(self, model: nn.Module, optimizer, scheduler, config: RunConfig, data: DataSource, *,
                 device: Optional[torch.device] = None, rewards: Optional[RewardSource] = None,
                 teacher: Optional[nn.Module] = None, reference: Optional[nn.Module] = None):
        self.model = model  # the trained model
        self.device = torch.device(device) if device is not None else model.lm_head_weight().device
        self.optimizer, self.scheduler, self.config, self.hyper = optimizer, scheduler, config, config.hyper
        self.data, self.rewards, self.world = data, rewards, world_size()
        self.teacher, self.reference = frozen(teacher), frozen(reference)
        self.counters: Dict[str, int] = {}  # data positions and tallies: the stage's checkpointed state

    def state_dict(self) -> Dict[str, Any]:
        return dict(self.counters)

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.counters.update(state)

    def seed(self, purpose: str, step: int, *more: int) -> int:
        """A seed from (run seed, purpose, step, more): every draw is a function of these alone, so a resumed run
        replays it, on any number of ranks."""
        key = hashlib.sha256(":".join(map(str, (self.config.seed, purpose, step, *more))).encode()).digest()
        return int.from_bytes(key[:8], "little") >> 1

    def generator(self, purpose: str, step: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed(purpose, step))

    def forward(self, model: nn.Module, ids: torch.Tensor, position_ids: Optional[torch.Tensor]):
        with autocast(self.device):
            hidden = model(ids, position_ids)
        return head_inputs(hidden, model.lm_head_weight())

    def global_tokens(self, tokens: int, rows: int) -> int:
        """The step's trained tokens over all ranks, from this rank's tokens and rows. Ranks holding different
        numbers of rows would run different numbers of micro-batches, whose collectives would never pair up."""
        counts = gather_counts(tokens, rows)
        if len({r for _, r in counts}) > 1:
            raise ValueError(f"ranks hold {[r for _, r in counts]} rows: every rank needs as many (rowsPerStep "
                             "divided evenly over the ranks)")
        return sum(t for t, _ in counts)

    def rows(self, frame: Frame):
        """input_ids, labels, position_ids of a packed-rows frame, as int64 on the device."""
        return tuple(frame[name].long().to(self.device) for name in ("input_ids", "labels", "position_ids"))

    def cross_entropy_losses(self, frame: Frame, coef: float, sums: Dict[str, float], key: str):
        """Loss closures for the next-token loss of a packed-rows frame (coef x token mean over all ranks) and the
        token count over all ranks; each adds its share of the unscaled token mean to sums[key]."""
        ids, labels, position_ids = self.rows(frame)
        tokens = self.global_tokens(int((labels != -100).sum()), len(ids))

        def loss(s: slice) -> torch.Tensor:
            hidden, weight = self.forward(self.model, ids[s], position_ids[s])
            ce = linear_cross_entropy(hidden, weight, labels[s].reshape(-1), reduction="sum") / max(tokens, 1)
            sums[key] += float(ce.detach())
            return coef * ce

        return [partial(loss, s) for s in micro_batches(len(ids), self.hyper.grad_accum)], tokens

    def stop_ids(self) -> List[int]:
        """hyper.stopIds, else the run's stopIds (the chat template's end of turn), else the ids the checkpoint's
        generation_config.json and config.json name as eos."""
        for ids in (self.hyper.stop_ids, self.config.stop_ids):
            if ids is not None:
                return list(ids)
        return self.model.eos_ids()

    def sample(self, step: int, frame: Frame, group: int = 1) -> Tuple[List[List[int]], List[List[int]]]:
        """The frame's prompts, each repeated `group` times, and a completion of each (see sample_prompts)."""
        return self.sample_prompts(step, frame.prompts(), frame.prompt_positions(), group)

    def sample_seeds(self, step: int, positions: Sequence[int], group: int) -> List[int]:
        """The seed of sample j of the prompt at each position p of the step: (run seed, "sample", step, p, j)."""
        return [self.seed("sample", step, p, j) for p in positions for j in range(group)]

    def sample_prompts(self, step: int, prompts: Sequence[Sequence[int]], positions: Sequence[int],
                       group: int = 1) -> Tuple[List[List[int]], List[List[int]]]:
        """The prompts, each repeated `group` times, and a completion of each. Sample j of the prompt at
        position p of the step draws from seed (run seed, "sample", step, p, j). The model is unsharded for the
        whole generation, so decode steps run without collectives; every rank must call this together (with
        no prompts, a rank still takes part in the gather)."""
        h = self.hyper
        seeds = self.sample_seeds(step, positions, group)
        prompts = [list(p) for p in prompts for _ in range(group)]
        with gathered(self.model), autocast(self.device):
            completions = sample(
                self.model, prompts, max_new_tokens=h.max_tokens, temperature=h.temperature, top_p=h.top_p,
                stop_ids=self.stop_ids(), seeds=seeds, vocab_limit=self.config.tokenizer_vocab,
                **self.rollout_options(),
            )
        return prompts, [c.tokens for c in completions]

    def rollout_options(self) -> Dict[str, Any]:
        """The sampler's micro-batch budget and compiled decode, from rolloutBatchTokens and rolloutCompile."""
        h = self.hyper
        return {"max_batch_tokens": h.rollout_batch_tokens or None, "compile": h.rollout_compile}

    def update(self) -> float:
        """Clips, steps the optimizer and clears the gradients; returns the gradient norm before clipping."""
        norm = clip_grad_norm(self.model.parameters(), self.hyper.clip_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return norm

    def finish(self, started: float, tokens: int, metrics: Dict[str, float]) -> Dict[str, float]:
        """Advances the schedule; adds the step's lr and trained tokens (over all ranks) per second."""
        metrics["lr"] = current_lr(self.optimizer)
        self.scheduler.step()
        metrics["tokens_per_s"] = tokens / max(time.perf_counter() - started, 1e-9)
        return metrics

    def step(self, step: int) -> Dict[str, float]:
        raise NotImplementedError


class SFT(Stage):
    """Next-token cross-entropy on packed rows (role "train"), labels already shifted, -100 ignored."""

    def step(self, step: int) -> Dict[str, float]:
        started, sums = time.perf_counter(), defaultdict(float)
        losses, tokens = self.cross_entropy_losses(self.data.batch(step, "train"), 1.0, sums, "loss")
        accumulate_gradients(losses, self.world)
        grad_norm = self.update()
        return self.finish(started, tokens, {"loss": all_sum(sums)["loss"], "grad_norm": grad_norm})


class OPD(Stage):
    """On-policy distillation: the loss is the divergence from a frozen teacher at the trained tokens of the step's
    examples, a token mean over all of them on all ranks.

    The step's examples are the prompts of its `prompts` frame (rowsPerStep over all ranks). Each example is, with
    probability `lambda`, on-policy: its prompt and the student's own completion (sampled with the run's sampling
    settings, seeded per example as GRPO's rollouts are); otherwise the dataset's: the same prompt and its
    dataset response (the frame's `completion_*` arrays, which a chat set's prompts carry). The choice is drawn
    per example from (run seed, step, the example's position among the step's examples on all ranks), so a run
    takes the same examples on any number of ranks and when resumed, and on-policy and dataset examples share the
    step, whose size is fixed. Only the completion's tokens are distilled: the positions predicting them, the
    stop token included. `sampled_fraction` is the step's share of on-policy examples over all ranks.

    Compared with TRL's GKDTrainer (trl.experimental.gkd, whose `lmbda`, `beta` and `max_new_tokens` match
    `lambda`, jsd's `beta` and `maxTokens`): TRL draws one `random.random() <= lmbda` coin per training_step call,
    from each process's own Python RNG, and replaces that whole micro-batch by student generations, so the
    on-policy share depends on the micro-batch size, the number of processes and their RNG state, and a resumed
    run draws differently; the Typhoon-S release's trainer draws the same way per micro-batch of one example per
    device. Here the draw is per example and a function of the run alone. TRL's seq_kd (teacher-generated
    completions) has no counterpart; its beta 0 / 1 are forward / reverse KL, as `divergence` jsd with beta 0 / 1
    is here, and the default divergence is forward KL, the release's `--beta 0.0`.

    With a teacher model, the reported `kl` is the full-vocabulary KL(teacher || student) per token, whatever the
    loss is. The teacher's root unit is resharded as soon as its forward's outputs are taken; a full-vocabulary loss
    keeps a copy of the teacher's head weight until the student's backward has used it.

    The teacher may instead be served (a RemoteTeacher in place of the model: its `submit(ids, position_ids, mask,
    k)` gives what `teacher_topk` gives for the distilled positions). Each micro-batch's top-K is asked for before
    the step's first forward, so the requests overlap the student's work, and the step reports `kl_topk`, the
    forward KL over the teacher's top K and the tail bucket (at most the full KL), in place of `kl`.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.teacher is None:
            raise ValueError("OPD needs a teacher model")
        self.served = not isinstance(self.teacher, nn.Module)
        if self.served and (not self.hyper.top_k or self.hyper.teacher_offload):
            raise ValueError("a teacher endpoint serves its top-K log-probs only: it needs topK > 0 and no "
                             "teacherOffload")

    def on_policy(self, step: int, position: int) -> bool:
        """Whether the example at `position` of the step's examples (over all ranks) is the student's own: a
        uniform number from (run seed, "lambda", step, position) below lambda."""
        return self.seed("lambda", step, position) / 2.0**63 < self.hyper.lambda_

    def examples(self, step: int, frame: Frame) -> Tuple[List[List[int]], List[List[int]], int]:
        """The step's prompts on this rank, the completion of each (sampled or the dataset's), and how many are
        sampled."""
        h = self.hyper
        prompts, positions, responses = frame.prompts(), frame.prompt_positions(), frame.completions()
        if responses is None and h.lambda_ < 1:
            raise ValueError(f"lambda {h.lambda_} trains some examples on their dataset responses, but the prompts "
                             "frame has none (no completion_offsets): they come with a chat train set's prompts; "
                             "with RL prompts set lambda to 1")
        counts = [n for n, in gather_counts(len(prompts))]
        if len(set(counts)) > 1:
            raise ValueError(f"ranks hold {counts} prompts: every rank needs as many (rowsPerStep divided evenly "
                             "over the ranks)")
        sampled = [i for i, p in enumerate(positions) if self.on_policy(step, p)]
        completions = [list(r) for r in responses] if responses is not None else [[] for _ in prompts]
        # Sampling gathers the model: the ranks sample together whenever any example of the step, anywhere, is
        # on-policy (a rank with none of its own still joins the gather), and none of them otherwise.
        if sampled or any(self.on_policy(step, p) for p in range(sum(counts))):
            _, drawn = self.sample_prompts(step, [prompts[i] for i in sampled], [positions[i] for i in sampled])
            for i, completion in zip(sampled, drawn):
                completions[i] = completion
        return prompts, completions, len(sampled)

    def distill_loss(self, ids, position_ids, mask, scale: float, sums: Dict[str, float],
                     served=None) -> torch.Tensor:
        h = self.hyper
        hidden, weight = self.forward(self.model, ids, position_ids)
        rows = mask.reshape(-1).nonzero().squeeze(1)
        student = hidden.index_select(0, rows)
        if served is not None:
            top_ids, top_logprobs = (t.to(self.device) for t in served.result())
            with torch.no_grad():
                sums["kl_topk"] += float(linear_topk_divergence(student, weight, top_ids, top_logprobs,
                                                                reduction="sum"))
        else:
            with torch.no_grad():
                t_hidden, t_weight = self.forward(self.teacher, ids, position_ids)
                t_hidden = t_hidden.index_select(0, rows)
                sums["kl"] += float(linear_divergence(student, weight, t_hidden, t_weight, reduction="sum"))
                if h.top_k:
                    top_ids, top_logprobs = teacher_topk(t_hidden, t_weight, h.top_k)
                else:
                    t_weight = t_weight.clone()  # the storage of the unsharded head goes with the reshard below
            release(self.teacher)
        kw = dict(kind=h.divergence, beta=h.beta, reduction="sum")
        if h.top_k:
            loss = linear_topk_divergence(student, weight, top_ids, top_logprobs, **kw)
        else:
            loss = linear_divergence(student, weight, t_hidden, t_weight, **kw)
        loss = loss * scale
        sums["loss"] += float(loss.detach())
        return loss

    def step(self, step: int) -> Dict[str, float]:
        started, sums = time.perf_counter(), defaultdict(float)
        prompts, completions, sampled = self.examples(step, self.data.batch(step, "prompts"))
        ids, targets = build_rows(prompts, completions)
        ids, mask = ids.to(self.device), (targets != -100).to(self.device)
        tokens = self.global_tokens(int(mask.sum()), len(ids))
        rows = [(ids[s], None, mask[s]) for s in micro_batches(len(ids), self.hyper.grad_accum)]
        served = [self.teacher.submit(*r, self.hyper.top_k) if self.served else None for r in rows]
        losses = [partial(self.distill_loss, *r, 1.0 / max(tokens, 1), sums, p) for r, p in zip(rows, served)]
        accumulate_gradients(losses, self.world)
        grad_norm = self.update()
        sums["examples"] += len(prompts)
        sums["sampled"] += sampled
        sums = all_sum(sums)
        kl = "kl_topk" if self.served else "kl"
        metrics = {
            "loss": sums["loss"], kl: sums[kl] / max(tokens, 1), "grad_norm": grad_norm,
            "sampled_fraction": sums["sampled"] / max(sums["examples"], 1),
        }
        return self.finish(started, tokens, metrics)


class GRPO(Stage):
    """Group relative policy optimization on the step's prompts (role "prompts").

    Each prompt is sampled `groupSize` times; the RewardSource scores the completions; advantages are
    group-normalized as `advantageStd` says (see group_advantages). Every log-prob (old, current, reference) is
    taken at the sampling temperature, the logits divided by `temperature` (by 1 when it is 0: a greedy pick has
    probability 1 under its own rule, so the model's own distribution stands in), as TRL's GRPOTrainer and verl
    take them. The nucleus is not cut, as in both, so with topP < 1 the ratios are those of the tempered
    distribution the nucleus was cut from. The old log-probs are those of the policy right after sampling, from a
    no-grad forward with the same kernel as training: the first update's ratios are exactly 1, and at topP 1 the
    old log-probs are the sampler's own.

    The per-token loss is -min(ratio A, clip(ratio, 1 - epsLow, 1 + epsHigh) A); with dualClip c > 1 it is capped at
    -c A where A < 0 (dual-clip PPO, verl's clip_ratio_c), so a ratio far above 1 on a bad completion cannot blow
    up the update; plus klCoef times the k3 estimate exp(ref - logp) - (ref - logp) - 1 of KL(policy || reference).

    The step's rollouts over all ranks are split into mini-batches of `miniBatchSize` (0: one of all of them), one
    optimizer update each, and `ppoEpochs` passes are made over them; an update's loss is the token mean over its
    mini-batch's trained completion tokens on all ranks. Each pass deals the rollouts to the mini-batches afresh,
    a stratified shuffle: the step's rollouts, in their order over all ranks, fall into runs of K (the number of
    mini-batches), and each run deals one rollout to every mini-batch, in an order drawn per run from a seed of (run
    seed, step, pass). A mini-batch is then the same rollouts on any number of ranks, and every rank holds as many
    of each (miniBatchSize / ranks): the ranks make the same forwards and backwards. Every update of a step trains
    at the step's learning rate: the schedule advances once per training step, as verl advances its scheduler once
    per rollout batch (TRL's Trainer advances it per optimizer update). Metrics average over the updates; clip
    fractions, entropy and KL are per trained token over all passes. The reward mean and population std are over
    all the step's rollouts on all ranks.

    The rollouts reach the model packed (pack_rollouts): each micro-batch's rollouts end to end in one row, no
    padding computed.

    With the run's `tools`, each rollout is multi-turn (agentic.py, `rollouts`): the service appends tool turns
    between the policy's turns, those tokens are masked out of the loss (pack_rollouts' masks), the reward is the
    service's score of the last assistant turn, and the step adds `tool_call_fraction` (rollouts the service
    answered with a tool turn at least once) and `turns` (assistant turns per rollout).
    """

    ink = False  # InK-GRPO adds the in-domain next-token loss

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.rewards is None:
            raise ValueError("GRPO needs a reward source")
        if self.hyper.kl_coef > 0 and self.reference is None:
            raise ValueError("klCoef > 0 needs a reference model")
        self.counters.update(corpus_batches=0)

    def temperature(self) -> float:
        """The temperature log-probs are taken at: the sampling temperature, 1 for greedy sampling."""
        return self.hyper.temperature if self.hyper.temperature > 0 else 1.0

    @torch.no_grad()
    def token_logprobs(self, model: nn.Module, batch: PackedRollouts) -> torch.Tensor:
        """Log-probs [1, L] of the batch's trained completion tokens at the sampling temperature, 0 elsewhere."""
        hidden, weight = self.forward(model, batch.ids, batch.position_ids)
        targets = batch.targets.reshape(-1)
        return linear_selected_logprobs(hidden, weight, targets, temperature=self.temperature()).view(batch.ids.shape)

    def rollout_logprobs(self, model: nn.Module, batches: Sequence[PackedRollouts]) -> List[torch.Tensor]:
        """Each rollout's completion-token log-probs under model, the batches' rollouts one after another."""
        logprobs: List[torch.Tensor] = []
        for batch in batches:
            logprobs += batch.gather(self.token_logprobs(model, batch)).split(batch.completion_lengths)
        return logprobs

    def policy_loss(self, batch: PackedRollouts, old, ref, advantages, scale: float,
                    sums: Dict[str, float]) -> torch.Tensor:
        """scale x the summed per-token loss of a packed batch; old, ref and advantages are row-shaped [1, L]."""
        h = self.hyper
        hidden, weight = self.forward(self.model, batch.ids, batch.position_ids)
        targets = batch.targets
        logp, entropy = linear_selected_logprobs(hidden, weight, targets.reshape(-1), temperature=self.temperature(),
                                                 return_entropy=True)
        logp, entropy = logp.view(targets.shape), entropy.view(targets.shape)
        mask = targets != -100
        ratio = torch.exp(logp - old)
        a = advantages
        per_token = -torch.min(ratio * a, ratio.clamp(1 - h.eps_low, 1 + h.eps_high) * a)
        if h.dual_clip:
            cap = -h.dual_clip * a
            dual = (a < 0) & (per_token > cap)
            per_token = torch.where(dual, cap, per_token)
            sums["dual_clipped"] += float((dual & mask).sum())
        if ref is not None:
            log_ratio = ref - logp
            k3 = torch.exp(log_ratio) - log_ratio - 1
            per_token = per_token + h.kl_coef * k3
            sums["kl"] += float(k3.detach()[mask].sum())
        clipped = ((ratio > 1 + h.eps_high) & (a > 0)) | ((ratio < 1 - h.eps_low) & (a < 0))
        sums["clipped"] += float((clipped & mask).sum())
        sums["entropy"] += float(entropy.detach()[mask].sum())
        loss = per_token[mask].sum() * scale
        sums["loss"] += float(loss.detach())
        return loss

    def mini_batches(self, step: int, positions: Sequence[int]) -> List[List[int]]:
        """The step's optimizer updates, pass after pass: each the indices (on this rank, ascending) of the rollouts
        of its mini-batch. positions: each of this rank's rollouts' position among the step's rollouts over all
        ranks (rank r holds the r-th of the equal consecutive parts)."""
        h, local = self.hyper, len(positions)
        total = local * self.world
        size = h.mini_batch_size or total
        if size % self.world:
            raise ValueError(f"miniBatchSize ({size}) must divide evenly over the {self.world} ranks: each rank "
                             "trains on as many rollouts of every mini-batch")
        if total % size:
            raise ValueError(f"the step's {total} rollouts (prompts per step x groupSize {h.group_size}) do not split "
                             f"into mini-batches of miniBatchSize {size}")
        count = total // size
        updates: List[List[int]] = []
        for epoch in range(h.ppo_epochs):
            g = torch.Generator().manual_seed(self.seed("minibatch", step, epoch))
            deal = torch.rand(size, count, generator=g).argsort(1).tolist()  # run r's i-th rollout: deal[r][i]
            assigned = [deal[p // count][p % count] for p in positions]
            updates += [[i for i, b in enumerate(assigned) if b == k] for k in range(count)]
        return updates

    def rollouts(self, step: int, frame: Frame) -> Tuple[List[List[int]], List[List[int]], Optional[List[List[int]]],
                                                          Dict[str, float]]:
        """The step's rollouts: prompts (each repeated groupSize times), completions, per-completion-token loss
        masks (None: every completion token is trained) and sums for the metrics. With tools, each rollout is
        multi-turn (agentic.py): its completion holds the tool turns the service appended, masked out."""
        h, tools = self.hyper, self.config.tools
        if not tools:
            prompts, completions = self.sample(step, frame, h.group_size)
            return prompts, completions, None, {}
        if not hasattr(self.rewards, "turns"):
            raise ValueError("a run with tools needs a reward source that answers turns")
        prompts = [p for p in frame.prompts() for _ in range(h.group_size)]
        names = [name for name in frame.prompt_ids() for _ in range(h.group_size)]
        seeds = self.sample_seeds(step, frame.prompt_positions(), h.group_size)
        with gathered(self.model), autocast(self.device):
            done = agentic_rollouts(
                self.model, prompts, names, seeds, self.rewards, step, max_turns=int(tools["maxTurns"]),
                max_new_tokens=h.max_tokens, budget=self.config.seq_len or None, temperature=h.temperature,
                top_p=h.top_p, stop_ids=self.stop_ids(), vocab_limit=self.config.tokenizer_vocab,
                **self.rollout_options(),
            )
        counts = {"tool_rollouts": float(sum(r.appended > 0 for r in done)), "turns": float(sum(r.turns for r in done))}
        return prompts, [r.completion_ids for r in done], [r.mask for r in done], counts

    def step(self, step: int) -> Dict[str, float]:
        h, started, sums = self.hyper, time.perf_counter(), defaultdict(float)
        frame = self.data.batch(step, "prompts")
        prompts, completions, masks, tool_counts = self.rollouts(step, frame)
        names = [name for name in frame.prompt_ids() for _ in range(h.group_size)]
        rollouts = [Rollout(*item) for item in zip(names, prompts, completions)]
        rewards = torch.as_tensor(self.rewards.rewards(step, rollouts), dtype=torch.float32).reshape(-1)
        if rewards.numel() != len(rollouts):
            raise ValueError(f"reward source returned {rewards.numel()} rewards for {len(rollouts)} rollouts")
        # A group never spans ranks.
        advantages = group_advantages(rewards, h.group_size, h.advantage_std).to(self.device)

        def pack(members: Sequence[int]) -> PackedRollouts:
            return pack_rollouts([prompts[i] for i in members], [completions[i] for i in members],
                                 None if masks is None else [masks[i] for i in members]).to(self.device)

        # The trained tokens of each rollout: its completion's, less the tool turns' (masked out).
        local = len(rollouts)
        trained = [len(c) for c in completions] if masks is None else [sum(m) for m in masks]
        tokens = self.global_tokens(sum(trained), local)  # and every rank holds as many rollouts
        positions = [p * h.group_size + j for p in frame.prompt_positions() for j in range(h.group_size)]
        updates = self.mini_batches(step, positions)

        # Old and reference log-probs, in micro-batches of the size the updates' are.
        per_pass = len(updates) // h.ppo_epochs
        batches = [pack(range(local)[s]) for s in micro_batches(local, per_pass * h.grad_accum)]
        old = self.rollout_logprobs(self.model, batches)
        ref = None
        if h.kl_coef > 0:
            ref = self.rollout_logprobs(self.reference, batches)
            release(self.reference)
        del batches
        update_tokens = all_sum({str(u): sum(trained[i] for i in members) for u, members in enumerate(updates)})

        def policy_loss(members: Sequence[int], scale: float) -> Callable[[], torch.Tensor]:
            batch = pack(members)

            def row(per_rollout: List[torch.Tensor]) -> torch.Tensor:
                return batch.spread(torch.cat([per_rollout[i] for i in members]))

            return partial(self.policy_loss, batch, row(old), None if ref is None else row(ref),
                           batch.spread(batch.per_token(advantages[list(members)])), scale, sums)

        trained_tokens, grad_norms, ce_applied = tokens * h.ppo_epochs, [], 0
        ce_draws = torch.rand(len(updates), generator=self.generator("ce", step)).tolist()  # b per update
        for u, members in enumerate(updates):
            scale = 1.0 / max(update_tokens[str(u)], 1)
            losses = [policy_loss(members[s], scale) for s in micro_batches(len(members), h.grad_accum)]
            if self.ink and ce_draws[u] < h.ce_prob:
                self.counters["corpus_batches"] += 1
                corpus = self.data.batch(self.counters["corpus_batches"], "corpus")
                ce_losses, ce_tokens = self.cross_entropy_losses(corpus, h.ce_coef, sums, "ce_loss")
                losses += ce_losses
                trained_tokens += ce_tokens
                ce_applied += 1
            accumulate_gradients(losses, self.world)
            grad_norms.append(self.update())

        # Rewards over all ranks: their mean first, then the squared deviations from it.
        counted = all_sum({"rollouts": local, "reward": float(rewards.double().sum()),
                           "completion_tokens": sum(map(len, completions)), **tool_counts})
        reward_mean = counted["reward"] / max(counted["rollouts"], 1)
        sums["reward_deviation"] += float(((rewards.double() - reward_mean) ** 2).sum())
        sums = all_sum(sums)
        count, total = len(updates), max(tokens * h.ppo_epochs, 1)
        metrics = {
            "loss": (sums["loss"] + h.ce_coef * sums.get("ce_loss", 0.0)) / count,
            "reward_mean": reward_mean,
            "reward_std": math.sqrt(sums["reward_deviation"] / max(counted["rollouts"], 1)),
            "clip_fraction": sums["clipped"] / total,
            "entropy": sums["entropy"] / total,
            "completion_length": counted["completion_tokens"] / max(counted["rollouts"], 1),
            "grad_norm": sum(grad_norms) / count,
        }
        if h.dual_clip:
            metrics["dual_clip_fraction"] = sums["dual_clipped"] / total
        if ref is not None:
            metrics["kl"] = sums["kl"] / total
        if tool_counts:  # the share of rollouts that called a tool, and assistant turns per rollout
            metrics["tool_call_fraction"] = counted["tool_rollouts"] / max(counted["rollouts"], 1)
            metrics["turns"] = counted["turns"] / max(counted["rollouts"], 1)
        if self.ink:
            metrics["ce_applied"] = ce_applied / count
            if ce_applied:
                metrics["ce_loss"] = sums["ce_loss"] / ce_applied
        return self.finish(started, trained_tokens, metrics)


class InKGRPO(GRPO):
    """GRPO plus, in each optimizer update with probability ceProb (rho), ceCoef (lambda) times the next-token loss
    on the next batch of the in-domain corpus (role "corpus", numbered 1, 2, ... in the order they are used):
    L = L_GRPO + lambda * b * L_CE with b ~ Bernoulli(rho) drawn per update (each mini-batch of each pass) from the
    run's seeded generator."""

    ink = True


STAGES = {"sft": SFT, "opd": OPD, "grpo": GRPO, "ink-grpo": InKGRPO}
