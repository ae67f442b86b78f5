"""Optimizer, learning-rate schedule, clipping, gradient accumulation, and the checkpointed training state.

A training checkpoint is a directory holding the model in Hugging Face format (`checkpoint.save_checkpoint`:
config.json, generation_config.json, the fp32 master weights as safetensors, bit for bit) and `trainer_state.pt`
with everything else a bit-exact resume needs: the optimizer and scheduler state dicts, the RNG states of Python,
torch and CUDA, the step, and the stage's own state (its random generators and data positions).
"""

import contextlib
import inspect
import math
import os
import random
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from .checkpoint import file_records, load_state_dict_file, save_checkpoint, save_state_dict_file

STATE_NAME = "trainer_state.pt"


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper, or the model itself."""
    return getattr(model, "module", model)


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

    A non-finite norm raises: stepping on it would silently ruin the weights.
    """
    params = [p for p in parameters if p.grad is not None]
    # An infinite bound makes the clip factor exactly 1, so the gradients are left bit-for-bit as they were.
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm if max_norm > 0 else math.inf)
    norm = float(norm)
    if not math.isfinite(norm):
        raise FloatingPointError(f"gradient norm is {norm}")
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


def accumulate_gradients(model: nn.Module, micro_losses: Sequence[Callable[[], torch.Tensor]]) -> None:
    """Runs forward and backward for each micro-batch loss closure.

    Each closure must already scale its loss by the step's normaliser (e.g. 1 / all trained tokens of the step),
    so the summed gradients are those of the whole step. Under DistributedDataParallel, gradients are all-reduced
    only in the last backward.
    """
    for i, loss_fn in enumerate(micro_losses):
        last = i == len(micro_losses) - 1
        with contextlib.nullcontext() if last or not hasattr(model, "no_sync") else model.no_sync():
            loss_fn().backward()


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
    *, stop_ids: Optional[Sequence[int]] = None,
) -> List[Dict[str, Any]]:
    """Writes the model (stop_ids: generation_config.json's eos ids, default the model's own) and the trainer
    state into directory; returns [{"name", "sha256", "bytes"}] per file."""
    os.makedirs(directory, exist_ok=True)
    hashes = save_checkpoint(unwrap(model), directory, stop_ids=stop_ids)
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng_state(),
        "stage": stage_state,
    }
    hashes[STATE_NAME] = save_state_dict_file(os.path.join(directory, STATE_NAME), state)
    return file_records(directory, hashes)


def load_training_state(directory: str, optimizer, scheduler) -> Dict[str, Any]:
    """Restores optimizer, scheduler and global RNG states from a training checkpoint (the model is loaded by
    the caller, before the optimizer is built); returns the state with its "step" and "stage" entries."""
    state = load_state_dict_file(os.path.join(directory, STATE_NAME))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    return state
