"""The engine's run loop: one rank of one run, from the service's /config to the last checkpoint.

Steps are numbered 1..totalSteps: step k trains on `/batches/k`, posts its metrics as step k, and the checkpoint
"at step k" holds the state after it; resuming from that checkpoint continues with step k + 1. Checkpoints go to
{checkpointDir}/step-{k} every `checkpointEvery` steps, at the end, and when the run is stopped (the service's
answer to rank 0's metrics, or SIGTERM to any rank): the ranks agree at the step boundary, the current step is
finished, checkpointed, and the process exits with 143.

Every run shards its models with FSDP2 (parallel.py), on one rank as on many (torchrun): all ranks write the
sharded checkpoint together, rank 0 posts the run-wide metrics and the checkpoint's files.
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
import torch.nn as nn

from .algorithms import STAGES, RunConfig, Stage, frozen
from .checkpoint import load_checkpoint
from .client import DataSource, EngineClient, EventSink, RewardSource
from .models import CausalLM, attention_implementation, init_model, tiny_config
from .optim import WarmupCosine, build_optimizer, build_scheduler, load_training_state, save_training_checkpoint
from .parallel import any_rank, process_group, rank_device, shard
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
    """Trains the configured stage to totalSteps; returns the exit status (0, or 143 when stopped). Uses the
    default process group, opening one (torchrun's address for several ranks) when there is none."""
    device = torch.device(device)
    flag = StopFlag()
    with stop_on_sigterm(flag):
        sink.status("running", f"rank {rank} of {world} on {device}")
        try:
            with process_group(device, rank, world):
                return _run(config, data, rewards, sink, flag, rank, device)
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
    device: Optional[torch.device] = None,
) -> Stage:
    """The configured stage with a fresh AdamW and warmup-cosine schedule for `model` (sharded or not)."""
    h = config.hyper
    optimizer = build_optimizer(
        model, lr=h.lr, weight_decay=h.weight_decay, betas=(h.adam_beta1, h.adam_beta2), eps=h.adam_eps
    )
    schedule = WarmupCosine(h.warmup_steps, config.total_steps, h.min_lr_ratio, cosine=h.schedule == "cosine")
    scheduler = build_scheduler(optimizer, schedule)
    return STAGES[config.stage](
        model, optimizer, scheduler, config, data, device=device, rewards=rewards, teacher=teacher, reference=reference
    )


def _run(config, data, rewards, sink, flag, rank, device) -> int:
    h = config.hyper
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    start = config.resume["path"] if config.resume else None
    # Resolved for the device the forwards run on; every model is read whole on the CPU, then sharded onto it.
    attention = attention_implementation(h.attention, device)
    cpu = torch.device("cpu")
    model = load_model({"path": start} if start else config.model, cpu, torch.float32, attention).train()
    model = shard(model, device, trainable=True, offload=h.cpu_offload, checkpointing=h.gradient_checkpointing)
    # Frozen models are stored in bf16 on CUDA; the CPU computes in fp32.
    frozen_dtype = torch.bfloat16 if device.type == "cuda" else torch.float32

    def frozen_model(spec):
        loaded = frozen(load_model(spec, cpu, frozen_dtype, attention))
        return shard(loaded, device, trainable=False, offload=h.teacher_offload)

    teacher = reference = None
    if config.stage == "opd":
        if not config.teacher:
            raise ValueError("stage 'opd' needs a teacher model")
        if "endpoint" in config.teacher:  # served: no teacher weights here
            vocab = model.lm_head_weight().shape[0]
            teacher = RemoteTeacher.from_endpoint(config.teacher["endpoint"], vocab_size=vocab)
        else:
            teacher = frozen_model(config.teacher)
    if config.stage in ("grpo", "ink-grpo") and h.kl_coef > 0:
        reference = frozen_model(config.reference or config.model)

    stage = build_stage(
        config, model, data, rewards=rewards, teacher=teacher, reference=reference, device=device
    )
    step = 0
    if start:
        state = load_training_state(start, model, stage.optimizer, stage.scheduler, rank=rank)
        stage.load_state_dict(state["stage"])
        step = state["step"]
        if step != int(config.resume["step"]):
            raise ValueError(f"resume checkpoint {start} holds step {step}, not {config.resume['step']}")

    def save(step: int, consolidated: bool) -> None:
        path = os.path.join(config.checkpoint_dir, f"step-{step}")
        files = save_training_checkpoint(
            path, model, stage.optimizer, stage.scheduler, step, stage.state_dict(), rank=rank,
            consolidated=consolidated, stop_ids=config.stop_ids,
        )
        if rank == 0:
            sink.checkpoint(step, path, files)

    while step < config.total_steps:
        step += 1
        metrics = stage.step(step)
        # The service answers rank 0's metrics with whether the run is to stop (cancelled, or the service stopping).
        asked = rank == 0 and bool(sink.metrics(step, metrics))
        signalled, asked = any_rank(flag.set, asked)
        stopping = (signalled or asked) and step < config.total_steps
        last = step == config.total_steps
        if stopping or last or (h.checkpoint_every and step % h.checkpoint_every == 0):
            save(step, consolidated=stopping or last)
        if stopping:
            why = "by SIGTERM" if signalled else "at the service's request"
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
        return run(config, client, client, client, rank=args.rank, world=args.world, device=rank_device(args.rank))
    except Exception:
        traceback.print_exc()
        return 1
