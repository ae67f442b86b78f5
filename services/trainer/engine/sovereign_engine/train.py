"""The engine's run loop: one rank of one run, from the service's /config to the last checkpoint.

Steps are numbered 1..totalSteps: step k trains on `/batches/k`, posts its metrics as step k, and the checkpoint
"at step k" holds the state after it; resuming from that checkpoint continues with step k + 1. Checkpoints go to
{checkpointDir}/step-{k} every `checkpointEvery` steps, at the end, and when the run is stopped (the service's
answer to a step's metrics, or SIGTERM): the current step is finished, checkpointed, and the process exits with 143.

Several ranks (torchrun) train data-parallel with DistributedDataParallel; rank 0 writes checkpoints and posts
the run-wide (rank-averaged) metrics. That part is kept to the few functions marked "distributed" below.
"""

import argparse
import os
import random
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from typing import Any, Dict, Optional, Union

import torch
import torch.distributed as dist
import torch.nn as nn

from .algorithms import STAGES, RunConfig, Stage
from .checkpoint import load_checkpoint
from .client import DataSource, EngineClient, EventSink, RewardSource
from .models import CausalLM, attention_implementation, init_model, tiny_config
from .optim import (
    WarmupCosine, build_optimizer, build_scheduler, load_training_state, save_training_checkpoint, unwrap,
)
from .remote_teacher import RemoteTeacher

EXIT_SIGTERM = 143  # 128 + SIGTERM, what a shell reports for a process killed by it


def load_model(
    spec: Dict[str, Any], device: torch.device, dtype: Optional[torch.dtype] = None, attention: str = "auto"
) -> CausalLM:
    """{"path": HF checkpoint dir} (dtype None: the checkpoint's own) or {"tiny": named config, "seed": n} (dtype
    None: fp32), with the `attention` setting's implementation."""
    if "path" in spec:
        return load_checkpoint(spec["path"], device, dtype, attention=attention)
    if "tiny" in spec:
        config = tiny_config(spec["tiny"])
        return init_model(config, int(spec.get("seed", 0)), device=device, dtype=dtype, attention=attention)
    raise ValueError(f"model spec needs 'path' or 'tiny', got {spec!r}")


class StopFlag:
    """Set by the SIGTERM handler; the run loop reads it between steps."""

    def __init__(self):
        self.set = False


@contextmanager
def stop_on_sigterm(flag: StopFlag):
    """Turns SIGTERM into `flag.set` for the duration (only the main thread may install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        flag.set = True

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# distributed: process group, DDP wrapper, agreement between ranks


def init_distributed(rank: int, world: int) -> torch.device:
    """This rank's device; for world > 1 also the process group, from torchrun's MASTER_ADDR and MASTER_PORT."""
    if torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world)
    return device


def data_parallel(model: nn.Module, device: torch.device, world: int) -> nn.Module:
    if world == 1:
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def mean_over_ranks(metrics: Dict[str, float], device: torch.device, world: int) -> Dict[str, float]:
    if world == 1:
        return metrics
    names = sorted(metrics)  # every rank's stage reports the same names
    values = torch.tensor([metrics[n] for n in names], dtype=torch.float64, device=device)
    dist.all_reduce(values)
    return {n: v / world for n, v in zip(names, values.tolist())}


def any_rank(flag: bool, device: torch.device, world: int) -> bool:
    """Whether any rank has the flag: all ranks stop after the same step."""
    if world == 1:
        return flag
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


# the run


def _post_failure(sink: EventSink, message: str) -> None:
    """Best effort: the run is failing already, and the service may be what failed."""
    try:
        sink.status("failed", message)
    except Exception as e:  # noqa: BLE001 - reporting must not mask the original error
        print(f"could not post the failure status: {e}", file=sys.stderr)


def run(
    config: RunConfig,
    data: DataSource,
    rewards: Optional[RewardSource],
    sink: EventSink,
    *,
    rank: int = 0,
    world: int = 1,
    device: Union[str, torch.device] = "cpu",
) -> int:
    """Trains the configured stage to totalSteps; returns the exit status (0, or 143 after SIGTERM)."""
    device = torch.device(device)
    flag = StopFlag()
    with stop_on_sigterm(flag):
        sink.status("running", f"rank {rank} of {world} on {device}")
        try:
            return _run(config, data, rewards, sink, flag, rank, world, device)
        except Exception as e:
            _post_failure(sink, f"{type(e).__name__}: {e}")
            raise


def build_stage(
    config: RunConfig,
    model: nn.Module,
    data: DataSource,
    *,
    rewards: Optional[RewardSource] = None,
    teacher: Optional[nn.Module] = None,
    reference: Optional[nn.Module] = None,
    rank: int = 0,
) -> Stage:
    """The configured stage with a fresh AdamW and warmup-cosine schedule for `model` (possibly DDP-wrapped)."""
    h = config.hyper
    optimizer = build_optimizer(
        unwrap(model), lr=h.lr, weight_decay=h.weight_decay, betas=(h.adam_beta1, h.adam_beta2), eps=h.adam_eps
    )
    schedule = WarmupCosine(h.warmup_steps, config.total_steps, h.min_lr_ratio, cosine=h.schedule == "cosine")
    scheduler = build_scheduler(optimizer, schedule)
    return STAGES[config.stage](
        model, optimizer, scheduler, config, data, rank=rank, rewards=rewards, teacher=teacher, reference=reference
    )


def _run(config, data, rewards, sink, flag, rank, world, device) -> int:
    h = config.hyper
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    start = config.resume["path"] if config.resume else None
    # Resolved for the device the forwards run on, also for a teacher that waits on the CPU between them.
    attention = attention_implementation(h.attention, device)
    # fp32 master weights; the forwards run in bf16 autocast on CUDA.
    model = load_model({"path": start} if start else config.model, device, torch.float32, attention).train()
    model.set_gradient_checkpointing(h.gradient_checkpointing)
    # Frozen models stay in their stored dtype on CUDA; the CPU computes in fp32.
    frozen_dtype = None if device.type == "cuda" else torch.float32
    teacher = reference = None
    if config.stage == "opd":
        if not config.teacher:
            raise ValueError("stage 'opd' needs a teacher model")
        if "endpoint" in config.teacher:  # served: no teacher weights here
            vocab = model.lm_head_weight().shape[0]
            teacher = RemoteTeacher.from_endpoint(config.teacher["endpoint"], vocab_size=vocab)
        else:
            teacher_device = torch.device("cpu") if h.teacher_offload else device
            teacher = load_model(config.teacher, teacher_device, frozen_dtype, attention)
    if config.stage in ("grpo", "ink-grpo") and h.kl_coef > 0:
        reference = load_model(config.reference or config.model, device, frozen_dtype, attention)

    stage = build_stage(
        config, data_parallel(model, device, world), data, rewards=rewards, teacher=teacher, reference=reference,
        rank=rank,
    )
    optimizer, scheduler = stage.optimizer, stage.scheduler
    step = 0
    if start:
        state = load_training_state(start, optimizer, scheduler)
        stage.load_state_dict(state["stage"])
        step = state["step"]
        if step != int(config.resume["step"]):
            raise ValueError(f"resume checkpoint {start} holds step {step}, not {config.resume['step']}")

    def save(step: int) -> None:
        if rank == 0:
            path = os.path.join(config.checkpoint_dir, f"step-{step}")
            files = save_training_checkpoint(
                path, model, optimizer, scheduler, step, stage.state_dict(), stop_ids=config.stop_ids
            )
            sink.checkpoint(step, path, files)

    while step < config.total_steps:
        step += 1
        metrics = mean_over_ranks(stage.step(step), device, world)
        # The service answers rank 0's metrics with whether the run is to stop (cancelled, or the service stopping).
        asked = rank == 0 and bool(sink.metrics(step, metrics))
        stopping = any_rank(flag.set or asked, device, world) and step < config.total_steps
        if stopping or step == config.total_steps or (h.checkpoint_every and step % h.checkpoint_every == 0):
            save(step)
        if stopping:
            why = "by SIGTERM" if flag.set else "at the service's request"
            sink.status("failed", f"stopped {why} after step {step} of {config.total_steps}, checkpoint saved")
            return EXIT_SIGTERM
    sink.status("succeeded", f"{config.total_steps} steps")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sovereign_engine", description="Runs one engine rank of a run.")
    parser.add_argument("--server", required=True, help="the trainer service's base URL")
    parser.add_argument("--run", required=True, help="the run id")
    parser.add_argument("--rank", type=int, default=int(os.environ.get("RANK", 0)))
    parser.add_argument("--world", type=int, default=int(os.environ.get("WORLD_SIZE", 1)))
    args = parser.parse_args(argv)
    client = EngineClient(args.server, args.run, rank=args.rank, world=args.world)
    try:
        try:
            config = RunConfig.from_dict(client.config())
        except Exception as e:
            _post_failure(client, f"{type(e).__name__}: {e}")
            raise
        device = init_distributed(args.rank, args.world)
        return run(config, client, client, client, rank=args.rank, world=args.world, device=device)
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
