"""FSDP2 for the engine: the run's process group, models sharded per decoder layer, and the collectives stages need.

Every run shards its models, on one rank as on many, so there is one code path: each decoder layer is an FSDP unit
(`fully_shard`), and the root unit holds the rest (embeddings, final norm, head). A trained model keeps fp32
sharded master weights, gradients and AdamW state; on CUDA its parameters are all-gathered and computed in bf16 and
its gradients reduce-scattered in fp32 (`MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32)`), on the CPU
(gloo) everything is fp32. A frozen model (OPD's teacher, GRPO's reference) is sharded the same way, stored in bf16
on CUDA, without gradients or optimizer state.

The loss kernels read the head weight after the model's forward (they take hidden states and the head's weight,
never logits), so a root unit stays unsharded after its forward: a trained model's until its backward has used
the head, a frozen model's until `release` once the loss no longer needs its head. Layers are resharded after
each forward. With CPU offload (`CPUOffloadPolicy`), a unit's shards live in pinned host memory and visit the GPU
while the unit computes; gradients and the optimizer step stay on the host.

FSDP averages gradients over ranks. The stages instead want the gradient of a loss normalised by the step's token
count over all ranks, so each rank's loss is its tokens' sum over that global count, multiplied by the world size
before backward (`accumulate_gradients` in optim.py) to cancel the average.
"""

import gc
import os
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Tuple

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointImpl, checkpoint_wrapper
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import CPUOffloadPolicy, FSDPModule, MixedPrecisionPolicy, OffloadPolicy, fully_shard

from .models import CausalLM


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank_device(rank: int) -> torch.device:
    """The device a rank computes on: its GPU (torchrun's LOCAL_RANK), else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
    torch.cuda.set_device(device)
    return device


@contextmanager
def process_group(device: torch.device, rank: int, world: int) -> Iterator[None]:
    """The default process group for the duration: NCCL on CUDA, gloo on the CPU; torchrun's MASTER_ADDR and
    MASTER_PORT for several ranks, an in-process store for one. One opened here is destroyed on exit; one that
    already exists is used as it is."""
    if dist.is_initialized():
        if dist.get_world_size() != world or dist.get_rank() != rank:
            raise ValueError(
                f"process group is rank {dist.get_rank()} of {dist.get_world_size()}, not {rank} of {world}"
            )
        yield
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if world == 1:
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    else:
        dist.init_process_group(backend, rank=rank, world_size=world)
    try:
        yield
        if world > 1:  # none tears the group down while another still talks to its store (rank 0 may hold it)
            dist.barrier()
    finally:
        # Sharded models keep their meshes, and so the group, in reference cycles: collected now, while the group
        # is whole, instead of at interpreter exit.
        gc.collect()
        dist.destroy_process_group()


def decoder_layers(model: nn.Module) -> List[Tuple[nn.Module, str]]:
    """(parent, attribute) of each decoder layer of a transformers model: the modules of the classes its
    `_no_split_modules` names (Qwen3DecoderLayer, Qwen3MoeDecoderLayer, LlamaDecoderLayer, ...), else the entries
    of the decoder's `layers`."""
    names = set(getattr(model, "_no_split_modules", None) or ())
    found = [
        (parent, child_name)
        for parent in model.modules()
        for child_name, child in parent.named_children()
        if type(child).__name__ in names
    ]
    if not found:
        layers = getattr(model.get_decoder(), "layers", None)
        found = [(layers, str(i)) for i in range(len(layers))] if isinstance(layers, nn.ModuleList) else []
    if not found:
        raise ValueError(f"{type(model).__name__}: no decoder layers found to shard")
    return found


def shard(
    model: CausalLM, device: torch.device, *, trainable: bool, offload: bool = False, checkpointing: bool = False
) -> CausalLM:
    """Shards model (whole, on the CPU) over the default process group's ranks, in place, and returns it.

    trainable: fp32 masters with bf16 compute on CUDA; else a frozen model, computed in the dtype it is stored in.
    offload: shards in host memory between uses (on CUDA; the CPU has nothing to offload to).
    checkpointing: each layer recomputes its activations in backward instead of keeping them, wrapped before it
    is sharded, so that FSDP's gathers happen around the recomputation rather than inside it.
    """
    mesh = init_device_mesh(device.type, (world_size(),))
    cuda = device.type == "cuda"
    mixed = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if cuda and trainable \
        else MixedPrecisionPolicy()
    placement = CPUOffloadPolicy(pin_memory=True) if offload and cuda else OffloadPolicy()
    layers = decoder_layers(model.hf)
    for parent, name in layers:
        layer = getattr(parent, name)
        if checkpointing:
            layer = checkpoint_wrapper(layer, checkpoint_impl=CheckpointImpl.NO_REENTRANT)
            setattr(parent, name, layer)
        fully_shard(layer, mesh=mesh, reshard_after_forward=True, mp_policy=mixed, offload_policy=placement)
    fully_shard(model, mesh=mesh, reshard_after_forward=False, mp_policy=mixed, offload_policy=placement)
    return model


def units(model: nn.Module) -> List[FSDPModule]:
    return [m for m in model.modules() if isinstance(m, FSDPModule)]


@contextmanager
def gathered(model: nn.Module) -> Iterator[None]:
    """Every unit of model unsharded for the duration (generation): decode steps then run without all-gathers,
    at the cost of the whole model's parameters in the compute dtype on each rank. Every rank must enter it."""
    all_units = units(model)
    layers = [m for m in all_units if m is not model]
    for unit in layers:
        unit.set_reshard_after_forward(False, recurse=False)
    try:
        for unit in all_units:
            unit.unshard()
        yield
    finally:
        for unit in layers:
            unit.set_reshard_after_forward(True, recurse=False)
        for unit in all_units:
            unit.reshard()


def release(model: nn.Module) -> None:
    """Reshards a frozen model's root unit, kept unsharded after its forward for the loss to read its head."""
    if isinstance(model, FSDPModule):
        model.reshard()


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_sum(values: Dict[str, float]) -> Dict[str, float]:
    """The sum over ranks of each value (float64), by name; every rank must pass the same names."""
    if world_size() == 1:
        return dict(values)
    names = sorted(values)
    total = torch.tensor([float(values[n]) for n in names], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(total)
    return dict(zip(names, total.tolist()))


def any_rank(*flags: bool) -> List[bool]:
    """For each flag, whether any rank has it set: all ranks then take the same branch, for the same reason."""
    if world_size() == 1:
        return list(flags)
    values = torch.tensor([int(f) for f in flags], device=_collective_device())
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return [bool(v) for v in values.tolist()]


def all_gather_objects(value: Any) -> List[Any]:
    """Every rank's value, in rank order (picklable values)."""
    if world_size() == 1:
        return [value]
    out: List[Any] = [None] * world_size()
    dist.all_gather_object(out, value)
    return out


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def gather_counts(*counts: int) -> List[List[int]]:
    """Each rank's counts, in rank order: [[rank 0's], [rank 1's], ...]."""
    mine = torch.tensor(counts, dtype=torch.int64, device=_collective_device() if world_size() > 1 else "cpu")
    if world_size() == 1:
        return [mine.tolist()]
    out = [torch.empty_like(mine) for _ in range(world_size())]
    dist.all_gather(out, mine)
    return [t.tolist() for t in out]
