"""GRPO and InK-GRPO on a verifiable toy task: the reward is the fraction of completion tokens equal to a target."""

import copy

import pytest
import torch

from sovereign_engine.algorithms import RunConfig, build_rows, group_advantages
from sovereign_engine.kernels import linear_cross_entropy
from toys import TargetTokenReward, ToyData, make_stage, toy_model

VOCAB, TARGET = 16, 5
TOY = dict(lr=1e-2, schedule="constant", maxTokens=6, stopIds=[], groupSize=8)


def test_group_advantages():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.3, 0.3, 0.3, 0.3, 2.0, 4.0, 6.0, 8.0])
    adv = group_advantages(rewards, 4)
    assert adv[:4].tolist() == pytest.approx([1.0, -1.0, -1.0, 1.0], rel=1e-5)
    assert adv[4:8].tolist() == [0.0] * 4  # equal rewards: exactly 0, not rounding noise over 1e-6
    r = rewards[8:]
    assert adv[8:].tolist() == pytest.approx(((r - r.mean()) / (r.std(unbiased=False) + 1e-6)).tolist())
    assert group_advantages(torch.tensor([3.0, -2.0]), 1).tolist() == [0.0, 0.0]


def test_mean_reward_rises_and_rollouts_are_grouped():
    rewards = TargetTokenReward(TARGET)
    stage = make_stage("grpo", toy_model(VOCAB, seed=1), ToyData(VOCAB, prompts=4), rewards=rewards, **TOY)
    metrics = [stage.step(step) for step in range(1, 31)]
    first, last = [m["reward_mean"] for m in metrics[:5]], [m["reward_mean"] for m in metrics[-5:]]
    assert sum(first) / 5 < 0.25 and sum(last) / 5 > 0.6, (first, last)
    assert all(m["completion_length"] == 6 for m in metrics)
    assert all(m["clip_fraction"] == 0 for m in metrics)  # one update per batch: the ratio is exactly 1
    assert "kl" not in metrics[0]
    rollouts = rewards.calls[0]
    assert len(rollouts) == 4 * 8
    assert [r.prompt for r in rollouts] == [f"p{i // 8}" for i in range(32)]
    assert all(r.prompt_ids == rollouts[8 * (i // 8)].prompt_ids for i, r in enumerate(rollouts))


def test_rollouts_stay_within_the_tokenizer_vocabulary():
    # The run config's tokenizerVocab reaches the sampler: ids past it (a checkpoint's padding rows) never appear.
    config = RunConfig.from_dict({"stage": "grpo", "model": {}, "totalSteps": 1, "tokenizerVocab": 12})
    assert config.tokenizer_vocab == 12
    free = TargetTokenReward(TARGET)
    make_stage("grpo", toy_model(VOCAB, seed=1), ToyData(VOCAB, prompts=4), rewards=free, **TOY).step(1)
    assert any(t >= 12 for r in free.calls[0] for t in r.completion_ids)
    limited = TargetTokenReward(TARGET)
    stage = make_stage("grpo", toy_model(VOCAB, seed=1), ToyData(VOCAB, prompts=4), rewards=limited,
                       tokenizer_vocab=12, **TOY)
    for step in (1, 2):
        stage.step(step)
    assert all(t < 12 for call in limited.calls for r in call for t in r.completion_ids)


def test_several_epochs_clip_and_report_kl_to_the_reference():
    model = toy_model(VOCAB, seed=1)
    reference = copy.deepcopy(model)
    stage = make_stage("grpo", model, ToyData(VOCAB, prompts=4), rewards=TargetTokenReward(TARGET),
                       reference=reference, ppoEpochs=3, klCoef=0.1, epsHigh=0.1, **TOY)
    metrics = [stage.step(step) for step in range(1, 9)]
    assert metrics[0]["kl"] < metrics[-1]["kl"] and metrics[-1]["kl"] > 0
    assert max(m["clip_fraction"] for m in metrics) > 0
    assert all(0 < m["entropy"] <= torch.log(torch.tensor(float(VOCAB))) for m in metrics)
    assert all(p.requires_grad is False for p in reference.parameters())


def test_policy_loss_matches_plain_pytorch():
    """-min(ratio A, clip(ratio) A) + klCoef k3, token mean, against full log-softmax logits."""
    model, reference = toy_model(VOCAB, seed=1), toy_model(VOCAB, seed=2)
    stage = make_stage("grpo", model, ToyData(VOCAB), rewards=TargetTokenReward(TARGET), reference=reference,
                       epsLow=0.2, epsHigh=0.3, klCoef=0.5, **TOY)
    ids, targets = build_rows([[1, 2, 3], [4, 5], [6]], [[7, 8, 9, 10], [11, 12], [13, 14, 15]])
    g = torch.Generator().manual_seed(0)
    mask = targets != -100
    old = torch.where(mask, stage.token_logprobs(model, ids, targets) + 0.5 * torch.randn(ids.shape, generator=g), 0)
    ref = stage.token_logprobs(reference, ids, targets)
    adv = torch.tensor([1.5, -0.7, 0.4])
    tokens = int(mask.sum())
    sums = {"loss": 0.0, "kl": 0.0, "clipped": 0.0, "entropy": 0.0}
    loss = stage.policy_loss(ids, targets, old, ref, adv, 1.0 / tokens, sums)

    logp = model.logits(model(ids)).log_softmax(-1).gather(-1, targets.clamp(min=0)[..., None])[..., 0]
    ratio = (logp - old).exp()
    a = adv[:, None].expand_as(ratio)
    surrogate = -torch.min(ratio * a, ratio.clamp(0.8, 1.3) * a)
    k3 = (ref - logp).exp() - (ref - logp) - 1
    expected = (surrogate + 0.5 * k3)[mask].mean()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    clipped = ((ratio > 1.3) & (a > 0)) | ((ratio < 0.8) & (a < 0))
    assert sums["clipped"] == int(clipped[mask].sum()) > 0
    assert sums["kl"] == pytest.approx(float(k3[mask].sum()), rel=1e-5)

    loss.backward()
    expected_grads = torch.autograd.grad(expected, list(model.parameters()))
    for (name, p), e in zip(model.named_parameters(), expected_grads):
        torch.testing.assert_close(p.grad, e, rtol=1e-4, atol=1e-6, msg=name)


def corpus_ce(model, frame):
    ids, labels, pos = (frame[n].long() for n in ("input_ids", "labels", "position_ids"))
    with torch.no_grad():
        return float(linear_cross_entropy(model(ids, pos).flatten(0, 1), model.lm_head_weight(), labels.flatten()))


def test_ink_grpo_applies_the_corpus_term_with_probability_rho_and_learns_the_corpus():
    held_out = ToyData(VOCAB, seed=77).batch(0, "corpus")
    settings = dict(TOY, groupSize=4, maxTokens=4, ppoEpochs=2)

    ink_model, data = toy_model(VOCAB, seed=1), ToyData(VOCAB, prompts=2)
    start = corpus_ce(ink_model, held_out)
    ink = make_stage("ink-grpo", ink_model, data, rewards=TargetTokenReward(TARGET), ceCoef=1.0, **settings)
    metrics = [ink.step(step) for step in range(1, 21)]

    applied = sum(round(m["ce_applied"] * 2) for m in metrics)  # updates (of 40) that included the corpus term
    assert 16 <= applied <= 32  # Binomial(40, 0.6): mean 24, sd 3.1
    assert ink.counters["corpus_batches"] == applied
    assert [step for step, role in data.requests if role == "corpus"] == list(range(1, applied + 1))
    assert all(("ce_loss" in m) == (m["ce_applied"] > 0) for m in metrics)
    ce = [m["ce_loss"] for m in metrics if "ce_loss" in m]
    assert sum(ce[-3:]) / 3 < 0.7 * ce[0]

    plain_model = toy_model(VOCAB, seed=1)
    plain = make_stage("grpo", plain_model, ToyData(VOCAB, prompts=2), rewards=TargetTokenReward(TARGET), **settings)
    for step in range(1, 21):
        plain.step(step)
    assert corpus_ce(ink_model, held_out) < start < corpus_ce(plain_model, held_out)
