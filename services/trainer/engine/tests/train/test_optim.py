"""Optimizer pieces: schedule values, clipping, micro-batch splits, accumulation against one plain-PyTorch step,
and the training checkpoint files (with and without the HF weights, the sharded state always)."""

import hashlib
import math

import pytest
import torch
import torch.nn.functional as F

from sovereign_engine.checkpoint import load_checkpoint
from sovereign_engine.optim import (
    WarmupCosine, build_optimizer, build_scheduler, clip_grad_norm, load_training_state, micro_batches,
    save_training_checkpoint,
)
from toys import ToyData, make_stage, toy_model


def test_warmup_then_cosine_to_the_floor():
    f = WarmupCosine(warmup_steps=3, total_steps=11, min_ratio=0.1)
    assert [f(i) for i in range(3)] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert f(3) == pytest.approx(1.0) and f(10) == pytest.approx(0.1) and f(50) == pytest.approx(0.1)
    assert f(6.5) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert all(f(i) > f(i + 1) for i in range(3, 10))
    assert [WarmupCosine(2, 10, cosine=False)(i) for i in (0, 1, 5, 9)] == [0.5, 1.0, 1.0, 1.0]


def test_scheduler_sets_the_lr_of_each_update():
    model = toy_model()
    optimizer = build_optimizer(model, lr=0.1)
    scheduler = build_scheduler(optimizer, WarmupCosine(2, 5, min_ratio=0.0))
    seen = []
    for _ in range(5):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([0.05, 0.1, 0.1, 0.05, 0.0])


def test_weight_decay_skips_vectors():
    model = toy_model()
    groups = build_optimizer(model, lr=1.0, weight_decay=0.1).param_groups
    assert all(p.dim() >= 2 for p in groups[0]["params"]) and groups[0]["weight_decay"] == 0.1
    assert all(p.dim() == 1 for p in groups[1]["params"]) and groups[1]["weight_decay"] == 0.0
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_clip_returns_the_norm_and_clips():
    params = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2, 2))]
    params[0].grad = torch.tensor([3.0, 0.0, 0.0])
    params[1].grad = torch.tensor([[0.0, 4.0], [0.0, 0.0]])
    before = [p.grad.clone() for p in params]
    assert clip_grad_norm(params, 0) == pytest.approx(5.0)
    assert all(torch.equal(p.grad, b) for p, b in zip(params, before))  # no clipping: bit-for-bit unchanged
    assert clip_grad_norm(params, 1.0) == pytest.approx(5.0)
    assert torch.cat([p.grad.flatten() for p in params]).norm().item() == pytest.approx(1.0, rel=1e-5)
    params[0].grad[0] = float("nan")
    with pytest.raises(FloatingPointError):
        clip_grad_norm(params, 1.0)


def test_micro_batches_cover_the_rows():
    assert micro_batches(10, 3) == [slice(0, 4), slice(4, 7), slice(7, 10)]
    assert micro_batches(2, 4) == [slice(0, 1), slice(1, 2)]
    with pytest.raises(ValueError):
        micro_batches(4, 0)


@pytest.mark.parametrize("grad_accum", [1, 3])
def test_sft_step_matches_one_plain_pytorch_step(grad_accum):
    """Accumulated, token-normalised micro-batches give the full batch's mean cross-entropy step."""
    data = ToyData(vocab=32, rows=5)
    model, reference = toy_model(seed=2), toy_model(seed=2)
    stage = make_stage("sft", model, data, lr=1e-3, gradAccum=grad_accum, clipGradNorm=0.5, weightDecay=0.1)
    metrics = stage.step(1)

    batch = data.batch(1, "train")
    ids, labels, pos = (batch[n].long() for n in ("input_ids", "labels", "position_ids"))
    logits = reference.logits(reference(ids, pos))
    loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.5)
    decay = [p for p in reference.parameters() if p.dim() >= 2]
    rest = [p for p in reference.parameters() if p.dim() < 2]
    torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.95)
    ).step()

    assert metrics["loss"] == pytest.approx(loss.item(), rel=1e-5)
    assert metrics["grad_norm"] == pytest.approx(norm.item(), rel=1e-4)
    assert metrics["lr"] == 1e-3 and metrics["tokens_per_s"] > 0
    for (name, a), b in zip(model.named_parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("consolidated", [True, False], ids=["with-weights", "sharded-only"])
def test_training_checkpoint_files_and_state(tmp_path, consolidated):
    model = toy_model()
    optimizer = build_optimizer(model, lr=0.1)
    scheduler = build_scheduler(optimizer, WarmupCosine(0, 4))
    model.logits(model(torch.tensor([[1, 2, 3]]))).sum().backward()
    optimizer.step()
    scheduler.step()
    (tmp_path / "step-1").mkdir()
    (tmp_path / "step-1" / "model.safetensors").write_bytes(b"from an earlier attempt")
    torch.manual_seed(7)
    files = save_training_checkpoint(str(tmp_path / "step-1"), model, optimizer, scheduler, 1, {"corpus_batches": 3},
                                     consolidated=consolidated)
    expected_next = torch.rand(4)
    names = [f["name"] for f in files]
    sharded = [name for name in names if name.startswith("state/")]
    assert "state/.metadata" in sharded and any(name.endswith(".distcp") for name in sharded)
    assert [name for name in names if name not in sharded] == [
        "config.json", "generation_config.json", *(["model.safetensors"] if consolidated else []),
        "trainer_state-rank0.pt",
    ]
    for f in files:
        data = (tmp_path / "step-1" / f["name"]).read_bytes()
        assert f["bytes"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()

    # The folder is a model either way: its HF weights, or the model's part of the sharded state.
    loaded = load_checkpoint(str(tmp_path / "step-1"))
    for (name, a), b in zip(model.named_parameters(), loaded.parameters()):
        assert torch.equal(a, b), name
    fresh_optimizer = build_optimizer(loaded, lr=0.1)
    fresh_scheduler = build_scheduler(fresh_optimizer, WarmupCosine(0, 4))
    torch.manual_seed(0)
    state = load_training_state(str(tmp_path / "step-1"), loaded, fresh_optimizer, fresh_scheduler)
    assert state["step"] == 1 and state["stage"] == {"corpus_batches": 3}
    assert torch.equal(torch.rand(4), expected_next)
    assert fresh_scheduler.last_epoch == 1 and fresh_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    saved, restored = optimizer.state_dict()["state"], fresh_optimizer.state_dict()["state"]
    assert saved.keys() == restored.keys()
    for i in saved:
        assert all(torch.equal(saved[i][k], restored[i][k]) for k in saved[i])
