"""Optimizer, learning-rate schedule, clipping, gradient accumulation, and the checkpointed training state.

A training checkpoint is a folder `step-k/`, written by every rank together:

    config.json, generation_config.json   the model's configuration, its eos ids the run's stop ids (rank 0)
    model.safetensors (or shards + index) the fp32 master weights in Hugging Face format, gathered to rank 0: only
                                          in the last step's checkpoint and in one written when the run stops
    state/                                torch.distributed.checkpoint (DCP): the sharded model and AdamW state,
                                          one file per rank and a .metadata file
    trainer_state-rank{r}.pt              rank r's step, scheduler state, stage counters and RNG states

A resumed run loads the model from the folder (checkpoint.load_checkpoint reads the HF weights, or the model part
of state/ when they are absent), shards it, and loads AdamW's state from state/: bit-exact on the same number of
ranks. DCP reshards the model and AdamW state onto another number of ranks; rank r then restores the RNG states
of trainer_state-rank{r}.pt when the folder has one, and rank 0's step, scheduler and counters otherwise. No
training draw comes from those RNG states (every draw is seeded from the run's seed and the step), so such a
resume replays the same data and rollouts, though not bit for bit: sums over a different number of ranks round
differently.
"""

import math
import os
import random
import shutil
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
import torch.distributed.checkpoint as dcp
import torch.nn as nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions, get_model_state_dict, get_optimizer_state_dict, get_state_dict, set_optimizer_state_dict,
)
from torch.distributed.tensor import DTensor

from .checkpoint import (
    CheckpointError, STATE_DIR, file_records, load_state_dict_file, model_from_state_dict, save_checkpoint,
    save_configs, save_state_dict_file, sha256_file,
)
from .parallel import all_gather_objects, all_sum, barrier, world_size


def trainer_state_name(rank: int) -> str:
    return f"trainer_state-rank{rank}.pt"


def build_optimizer(
    model: nn.Module, *, lr: float, weight_decay: float = 0.0, betas=(0.9, 0.95), eps: float = 1e-8
) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (norm weights and biases are not decayed); fused on CUDA if offered."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    kwargs: Dict[str, Any] = {}
    on_cuda = all(p.is_cuda for p in params)
    if on_cuda and "fused" in inspect.signature(torch.optim.AdamW).parameters:
        kwargs["fused"] = True
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=tuple(betas), eps=eps, **kwargs)


@dataclass
class WarmupCosine:
    """LR factor for 0-based update i: linear warmup to 1, then cosine down to min_ratio at the last update.

    A callable object rather than a closure so that LambdaLR's state dict records its settings.
    """

    warmup_steps: int
    total_steps: int
    min_ratio: float = 0.1  # floor, as a fraction of the peak lr
    cosine: bool = True  # False: constant after warmup

    def __call__(self, i: int) -> float:
        if i < self.warmup_steps:
            return (i + 1) / self.warmup_steps  # the first update already moves: no zero-lr step
        if not self.cosine:
            return 1.0
        progress = min(1.0, (i - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps - 1))
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(optimizer, schedule: WarmupCosine) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def current_lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def clip_grad_norm(parameters, max_norm: float) -> float:
    """Clips the global gradient norm to max_norm (<= 0: no clipping) and returns the norm before clipping.

    Sharded gradients (DTensors) count each element once, on the rank that holds it: the squared norms of the
    local shards are summed over ranks in one all-reduce, wherever the shards live (also in host memory with
    CPU offload). A non-finite norm raises on every rank: stepping on it would silently ruin the weights.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    sharded = any(isinstance(g, DTensor) for g in grads)
    local = [g.to_local() if isinstance(g, DTensor) else g for g in grads]
    norms = torch.stack([torch.linalg.vector_norm(g).to(local[0].device, torch.float64) for g in local])
    square = float(norms.square().sum())
    if sharded:
        square = all_sum({"square": square})["square"]
    norm = math.sqrt(square)
    if not math.isfinite(norm):
        raise FloatingPointError(f"gradient norm is {norm}")
    # torch's own factor, max_norm / (norm + 1e-6), applied only below 1: unclipped gradients stay bit for bit.
    factor = max_norm / (norm + 1e-6)
    if max_norm > 0 and factor < 1:
        for g in local:
            g.mul_(factor)
    return norm


def micro_batches(rows: int, count: int) -> List[slice]:
    """Row slices splitting a step's rows into `count` micro-batches of near-equal size (empty ones dropped)."""
    if count < 1:
        raise ValueError(f"gradient accumulation needs at least 1 micro-batch, got {count}")
    size, extra = divmod(rows, count)
    slices, start = [], 0
    for i in range(count):
        end = start + size + (i < extra)
        if end > start:
            slices.append(slice(start, end))
        start = end
    return slices


def accumulate_gradients(micro_losses: Sequence[Callable[[], torch.Tensor]], world: int = 1) -> None:
    """Runs forward and backward for each micro-batch loss closure.

    Each closure must already scale its loss by the step's normaliser over all ranks (e.g. 1 / all trained tokens
    of the step), so the summed gradients are those of the whole step: the sum over ranks of their shares, where
    FSDP's reduction averages over the `world` ranks, hence the factor. Each backward reduce-scatters its
    gradients into the sharded ones, so no micro-batch keeps an unsharded gradient beyond its own backward.
    """
    for loss_fn in micro_losses:
        (loss_fn() * world).backward()


def rng_state() -> Dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_training_checkpoint(
    directory: str, model: nn.Module, optimizer, scheduler, step: int, stage_state: Dict[str, Any],
    *, rank: int = 0, consolidated: bool = True, stop_ids: Optional[Sequence[int]] = None,
) -> List[Dict[str, Any]]:
    """Writes a training checkpoint (the module docstring's layout) into directory, replacing any earlier one
    there; every rank calls it. consolidated: also the HF weights, gathered to rank 0 on the CPU. stop_ids:
    generation_config.json's eos ids (default: the model's own). Returns [{"name", "sha256", "bytes"}] of every
    file in the folder on rank 0, [] on the others; each rank hashes its share of the files."""
    if rank == 0 and os.path.isdir(directory):
        shutil.rmtree(directory)
    barrier()
    os.makedirs(directory, exist_ok=True)
    model_state, optimizer_state = get_state_dict(model, optimizer)
    dcp.save({"model": model_state, "optimizer": optimizer_state}, checkpoint_id=os.path.join(directory, STATE_DIR))
    own = {"step": step, "scheduler": scheduler.state_dict(), "stage": stage_state, "rng": rng_state()}
    save_state_dict_file(os.path.join(directory, trainer_state_name(rank)), own)
    full = None
    if consolidated:  # every rank takes part in the gather; only rank 0 receives the tensors
        full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank == 0:
        if full is not None:
            save_checkpoint(model_from_state_dict(model.config, full, generation_config=model.hf.generation_config),
                            directory, stop_ids=stop_ids)
        else:
            save_configs(model, directory, stop_ids=stop_ids)
    del full
    barrier()
    names = sorted(
        os.path.relpath(os.path.join(folder, name), directory)
        for folder, _, files in os.walk(directory) for name in files
    )
    shares = all_gather_objects({name: sha256_file(os.path.join(directory, name))
                                 for name in names[rank::world_size()]})
    hashes = {name: sha for share in shares for name, sha in share.items()}
    return file_records(directory, hashes) if rank == 0 else []


def load_training_state(directory: str, model: nn.Module, optimizer, scheduler, *, rank: int = 0) -> Dict[str, Any]:
    """Restores AdamW's state from a training checkpoint's state/ (resharded onto this run's ranks), the scheduler,
    and this rank's RNG states; the model itself is loaded from the folder by the caller, before the optimizer is
    built. Returns this rank's trainer state (rank 0's when the checkpoint had fewer ranks), with its "step" and
    "stage" entries."""
    state_dir = os.path.join(directory, STATE_DIR)
    if not os.path.exists(os.path.join(state_dir, ".metadata")):
        raise CheckpointError(f"{directory}: no sharded training state ({STATE_DIR}/.metadata) to resume from")
    optimizer_state = get_optimizer_state_dict(model, optimizer)
    dcp.load({"optimizer": optimizer_state}, checkpoint_id=state_dir)
    set_optimizer_state_dict(model, optimizer, optim_state_dict=optimizer_state)
    own = os.path.join(directory, trainer_state_name(rank))
    state = load_state_dict_file(own if os.path.exists(own) else os.path.join(directory, trainer_state_name(0)))
    scheduler.load_state_dict(state["scheduler"])
    if os.path.exists(own):
        set_rng_state(state["rng"])
    return state
