"""GRPO and InK-GRPO on a verifiable toy task: the reward is the fraction of completion tokens equal to a target."""

import copy

import pytest
import torch

import sovereign_engine.algorithms as algorithms
from sovereign_engine.algorithms import Hyper, RunConfig, group_advantages, pack_rollouts
from sovereign_engine.kernels import linear_cross_entropy
from sovereign_engine.models import init_model
from toys import TargetTokenReward, ToyData, make_stage, toy_config, toy_model

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


@pytest.mark.parametrize("std", ["population", "sample", "none"])
def test_group_advantages_divide_by_the_named_std(std):
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.3, 0.3, 0.3, 0.3, 2.0, 4.0, 6.0, 9.0])
    adv = group_advantages(rewards, 4, std)
    for group in (slice(0, 4), slice(8, 12)):
        r = rewards[group]
        # population: the mean squared deviation; sample: Bessel's n - 1 (torch.std's default, verl's, TRL's)
        scale = {"population": ((r - r.mean()) ** 2).mean().sqrt() + 1e-6,
                 "sample": ((r - r.mean()) ** 2).sum().div(3).sqrt() + 1e-6, "none": 1.0}[std]
        assert adv[group].tolist() == pytest.approx(((r - r.mean()) / scale).tolist(), rel=1e-5)
    assert adv[4:8].tolist() == [0.0] * 4
    assert group_advantages(torch.tensor([3.0, -2.0]), 1, std).tolist() == [0.0, 0.0]
    if std == "none":  # Dr. GRPO: the reward scale survives
        assert adv[8:12].tolist() == pytest.approx([-3.25, -1.25, 0.75, 3.75])


def test_hyper_refuses_bad_grpo_settings():
    for settings, field in [({"advantageStd": "batch"}, "advantageStd"), ({"dualClip": 1.0}, "dualClip"),
                            ({"dualClip": 0.5}, "dualClip"), ({"miniBatchSize": -4}, "miniBatchSize")]:
        with pytest.raises(ValueError, match=field):
            Hyper.from_dict(settings)
    hyper = Hyper.from_dict({"advantageStd": "none", "dualClip": 3, "miniBatchSize": 64})
    assert (hyper.advantage_std, hyper.dual_clip, hyper.mini_batch_size) == ("none", 3, 64)
    assert (Hyper().advantage_std, Hyper().dual_clip, Hyper().mini_batch_size) == ("population", 0.0, 0)


@pytest.mark.parametrize("mini_batch", [0, 16])
def test_mean_reward_rises_and_rollouts_are_grouped(mini_batch):
    rewards = TargetTokenReward(TARGET)
    stage = make_stage("grpo", toy_model(VOCAB, seed=1), ToyData(VOCAB, prompts=4), rewards=rewards,
                       miniBatchSize=mini_batch, **TOY)
    metrics = [stage.step(step) for step in range(1, 31)]
    first, last = [m["reward_mean"] for m in metrics[:5]], [m["reward_mean"] for m in metrics[-5:]]
    assert sum(first) / 5 < 0.25 and sum(last) / 5 > 0.6, (first, last)
    assert all(m["completion_length"] == 6 for m in metrics)
    if not mini_batch:
        assert all(m["clip_fraction"] == 0 for m in metrics)  # one update per batch: the ratio is exactly 1
    assert "kl" not in metrics[0] and "dual_clip_fraction" not in metrics[0]
    rollouts = rewards.calls[0]
    assert len(rollouts) == 4 * 8
    assert [r.prompt for r in rollouts] == [f"p{i // 8}" for i in range(32)]
    assert all(r.prompt_ids == rollouts[8 * (i // 8)].prompt_ids for i, r in enumerate(rollouts))


def test_mini_batches_are_a_stratified_shuffle_the_same_on_any_number_of_ranks():
    stage = make_stage("grpo", toy_model(VOCAB, seed=1), ToyData(VOCAB), rewards=TargetTokenReward(TARGET),
                       miniBatchSize=8, ppoEpochs=3, **dict(TOY, groupSize=4))
    one = stage.mini_batches(5, list(range(16)))
    assert len(one) == 3 * 2  # two mini-batches of 8 per pass over the step's 16 rollouts
    passes = [one[2 * e : 2 * e + 2] for e in range(3)]
    for first, second in passes:
        assert sorted(first + second) == list(range(16)) and len(first) == len(second) == 8
        assert all((2 * r in first) != (2 * r + 1 in first) for r in range(8))  # each run of 2 deals one to each
    assert len({tuple(first) for first, _ in passes}) > 1  # each pass deals afresh
    assert stage.mini_batches(6, list(range(16))) != one  # and each step
    stage.world = 2  # rank r holds rollouts 8r .. 8r + 7
    halves = [stage.mini_batches(5, list(range(8 * r, 8 * r + 8))) for r in (0, 1)]
    for u, members in enumerate(one):
        assert len(halves[0][u]) == len(halves[1][u]) == 4
        assert halves[0][u] + [8 + i for i in halves[1][u]] == members
    with pytest.raises(ValueError, match=r"miniBatchSize \(8\) must divide evenly over the 3 ranks"):
        stage.world = 3
        stage.mini_batches(5, list(range(8)))


def test_a_mini_batch_that_does_not_divide_the_rollouts_is_refused_before_any_update():
    model = toy_model(VOCAB, seed=1)
    start = copy.deepcopy(model.state_dict())
    stage = make_stage("grpo", model, ToyData(VOCAB, prompts=4), rewards=TargetTokenReward(TARGET), miniBatchSize=12,
                       **dict(TOY, groupSize=4))
    with pytest.raises(ValueError, match=r"16 rollouts .* mini-batches of miniBatchSize 12"):
        stage.step(1)
    assert all(torch.equal(v, start[k]) for k, v in model.state_dict().items())


def test_each_mini_batch_is_an_update_normalised_by_its_own_tokens(monkeypatch):
    """Two passes over two mini-batches: four optimizer updates at the step's learning rate; the first one's gradient
    is the token mean over its mini-batch's completion tokens of -A logp at the sampling temperature (ratio 1)."""
    model = toy_model(VOCAB, seed=1)
    start = copy.deepcopy(model)
    rewards = TargetTokenReward(TARGET)
    stage = make_stage("grpo", model, ToyData(VOCAB, prompts=4), rewards=rewards, total_steps=4,
                       **dict(TOY, schedule="cosine", groupSize=4, stopIds=[3], temperature=0.9, miniBatchSize=8,
                              ppoEpochs=2, gradAccum=2, advantageStd="sample", clipGradNorm=0.0))
    grads, lrs, update = [], [], stage.update

    def recording_update():
        grads.append([p.grad.clone() for p in model.parameters()])
        lrs.append(stage.optimizer.param_groups[0]["lr"])
        return update()

    monkeypatch.setattr(stage, "update", recording_update)
    metrics = stage.step(1)
    assert len(grads) == 4 and len(set(lrs)) == 1 and metrics["lr"] == lrs[0]
    assert stage.scheduler.last_epoch == 1  # the schedule advanced once, for the step
    assert stage.step(2)["lr"] < lrs[0]

    rollouts = rewards.calls[0]
    advantages = group_advantages(TargetTokenReward(TARGET).rewards(1, rollouts), 4, "sample")
    members = stage.mini_batches(1, list(range(16)))[0]
    prompts = [rollouts[i].prompt_ids for i in members]
    completions = [rollouts[i].completion_ids for i in members]
    tokens = sum(map(len, completions))
    assert tokens * 2 != sum(len(r.completion_ids) for r in rollouts)  # the step's token mean would differ
    logps = unpadded_logprobs(start, prompts, completions, 0.9)
    loss = -sum(advantages[i] * logp.sum() for i, logp in zip(members, logps)) / tokens
    expected = torch.autograd.grad(loss, list(start.parameters()))
    assert any(bool(e.abs().max() > 0) for e in expected)
    for (name, _), got, e in zip(model.named_parameters(), grads[0], expected):
        torch.testing.assert_close(got, e, rtol=1e-4, atol=1e-6, msg=name)


def test_ink_grpo_draws_the_corpus_term_per_update():
    data = ToyData(VOCAB, prompts=2)
    ink = make_stage("ink-grpo", toy_model(VOCAB, seed=1), data, rewards=TargetTokenReward(TARGET), ceProb=0.5,
                     **dict(TOY, groupSize=4, maxTokens=4, miniBatchSize=4, ppoEpochs=2))
    applied = []
    for step in range(1, 4):
        draws = torch.rand(4, generator=ink.generator("ce", step)).tolist()  # 2 passes x 2 mini-batches
        applied.append(sum(d < 0.5 for d in draws))
        assert ink.step(step)["ce_applied"] == applied[-1] / 4
    assert ink.counters["corpus_batches"] == sum(applied) > 0
    assert len(set(applied)) > 1


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


def test_rollouts_decode_within_the_runs_batch_budget(monkeypatch):
    # rolloutBatchTokens and rolloutCompile reach the sampler; the budget changes how rows are batched, not what
    # they draw.
    seen = []
    real = algorithms.sample

    def spy(*args, **kwargs):
        seen.append({k: kwargs[k] for k in ("max_batch_tokens", "compile")})
        return real(*args, **kwargs)

    monkeypatch.setattr(algorithms, "sample", spy)
    plain, budgeted = TargetTokenReward(TARGET), TargetTokenReward(TARGET)
    make_stage("grpo", toy_model(VOCAB, seed=1), ToyData(VOCAB, prompts=4), rewards=plain, **TOY).step(1)
    make_stage("grpo", toy_model(VOCAB, seed=1), ToyData(VOCAB, prompts=4), rewards=budgeted,
               rolloutBatchTokens=40, **TOY).step(1)
    assert seen == [{"max_batch_tokens": None, "compile": False}, {"max_batch_tokens": 40, "compile": False}]
    assert [r.completion_ids for r in budgeted.calls[0]] == [r.completion_ids for r in plain.calls[0]]
    with pytest.raises(ValueError, match="rolloutBatchTokens"):
        Hyper.from_dict({"rolloutBatchTokens": -1})


def test_several_epochs_clip_and_report_kl_to_the_reference():
    model = toy_model(VOCAB, seed=1)
    reference = copy.deepcopy(model)
    stage = make_stage("grpo", model, ToyData(VOCAB, prompts=4), rewards=TargetTokenReward(TARGET),
                       reference=reference, ppoEpochs=3, klCoef=0.1, epsHigh=0.1, dualClip=1.2, **TOY)
    metrics = [stage.step(step) for step in range(1, 9)]
    assert metrics[0]["kl"] < metrics[-1]["kl"] and metrics[-1]["kl"] > 0
    assert max(m["clip_fraction"] for m in metrics) > 0
    assert max(m["dual_clip_fraction"] for m in metrics) > 0
    assert all(0 < m["entropy"] <= torch.log(torch.tensor(float(VOCAB))) for m in metrics)
    assert all(p.requires_grad is False for p in reference.parameters())


def unpadded_logprobs(model, prompts, completions, temperature=1.0):
    """Each rollout's completion-token log-probs from its own forward (no padding, no packing) and full logits."""
    out = []
    for prompt, completion in zip(prompts, completions):
        ids = torch.tensor([prompt + completion])
        logits = model.logits(model(ids))[0, len(prompt) - 1 : -1] / temperature
        out.append(logits.log_softmax(-1).gather(-1, torch.tensor(completion)[:, None])[:, 0])
    return out


PROMPTS = [[1, 2, 3], [4, 5], [6], [7, 8]]
COMPLETIONS = [[7, 8, 9, 10], [11, 12], [13, 14, 15], []]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_rollouts_give_each_rollouts_own_logprobs(attention):
    # Position ids restart per rollout and transformers keeps the rollouts apart: what each alone would compute.
    model = init_model(toy_config(VOCAB), 1, attention=attention)
    assert model.hf.config._attn_implementation == attention
    stage = make_stage("grpo", model, ToyData(VOCAB), rewards=TargetTokenReward(TARGET), temperature=0.7, **TOY)
    batch = pack_rollouts(PROMPTS, COMPLETIONS)
    assert batch.ids.shape == (1, sum(map(len, PROMPTS + COMPLETIONS)))  # no padding
    assert batch.position_ids[0].tolist() == [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    packed = batch.gather(stage.token_logprobs(model, batch)).split(batch.completion_lengths)
    with torch.no_grad():
        alone = unpadded_logprobs(model, PROMPTS, COMPLETIONS, 0.7)
    for got, expected in zip(packed, alone):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_packed_rollouts_train_only_the_unmasked_completion_tokens():
    masks = [[1, 0, 0, 1], None, [0, 1, 1], []]
    batch = pack_rollouts(PROMPTS, COMPLETIONS, masks)
    row = batch.ids[0].tolist()
    targets = batch.targets[0].tolist()
    # Position t predicts token t + 1: completion tokens kept by their mask, nothing else (prompts, the gaps
    # between rollouts, a rollout's last token).
    expected = [-100] * len(row)
    start = 0
    for prompt, completion, mask in zip(PROMPTS, COMPLETIONS, masks):
        for t, token in enumerate(completion):
            if mask is None or mask[t]:
                expected[start + len(prompt) - 1 + t] = token
        start += len(prompt) + len(completion)
    assert targets == expected
    assert [row[i + 1] for i, t in enumerate(targets) if t != -100] == [t for t in targets if t != -100]
    assert batch.gather(batch.targets).tolist() == [7, -100, -100, 10, 11, 12, -100, 14, 15]
    assert batch.spread(batch.per_token(torch.tensor([1.0, 2.0, 3.0, 4.0])))[0].tolist() == [
        0, 0, 1, 1, 1, 1, 0, 0, 2, 2, 0, 3, 3, 3, 0, 0, 0]
    assert pack_rollouts(PROMPTS, COMPLETIONS).targets.ne(-100).sum() == 9
    for bad in ([[1, 1], None, None, None], [[1, 2, 0, 1], None, None, None]):
        with pytest.raises(ValueError, match="rollout 0's mask"):
            pack_rollouts(PROMPTS, COMPLETIONS, bad)


@pytest.mark.parametrize("dual_clip", [0.0, 1.5])
def test_policy_loss_matches_plain_pytorch(dual_clip):
    """-min(ratio A, clip(ratio) A), capped at -c A for A < 0 with dual clip, + klCoef k3, token mean, against
    full log-softmax logits at the sampling temperature."""
    model, reference = toy_model(VOCAB, seed=1), toy_model(VOCAB, seed=2)
    stage = make_stage("grpo", model, ToyData(VOCAB), rewards=TargetTokenReward(TARGET), reference=reference,
                       epsLow=0.2, epsHigh=0.3, klCoef=0.5, temperature=0.8, dualClip=dual_clip, **TOY)
    prompts, completions = PROMPTS[:3], COMPLETIONS[:3]
    batch = pack_rollouts(prompts, completions)
    mask = batch.targets != -100
    g = torch.Generator().manual_seed(0)
    old = torch.where(mask, stage.token_logprobs(model, batch) + 0.7 * torch.randn(batch.ids.shape, generator=g), 0)
    ref = stage.token_logprobs(reference, batch)
    adv = torch.tensor([1.5, -0.7, -0.4])
    tokens = int(mask.sum())
    sums = {"loss": 0.0, "kl": 0.0, "clipped": 0.0, "entropy": 0.0, "dual_clipped": 0.0}
    loss = stage.policy_loss(batch, old, ref, batch.spread(batch.per_token(adv)), 1.0 / tokens, sums)

    logp = torch.cat(unpadded_logprobs(model, prompts, completions, 0.8))
    with torch.no_grad():
        ref_logp = torch.cat(unpadded_logprobs(reference, prompts, completions, 0.8))
    old_flat = batch.gather(old)
    ratio = (logp - old_flat).exp()
    a = batch.per_token(adv)
    surrogate = -torch.min(ratio * a, ratio.clamp(0.8, 1.3) * a)
    dual = torch.zeros_like(mask[0, : len(a)])
    if dual_clip:
        dual = (a < 0) & (surrogate > -dual_clip * a)
        surrogate = torch.where(dual, -dual_clip * a, surrogate)
    k3 = (ref_logp - logp).exp() - (ref_logp - logp) - 1
    expected = (surrogate + 0.5 * k3).mean()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    clipped = ((ratio > 1.3) & (a > 0)) | ((ratio < 0.8) & (a < 0))
    assert sums["clipped"] == int(clipped.sum()) > 0
    assert sums["kl"] == pytest.approx(float(k3.detach().sum()), rel=1e-5)
    assert sums["dual_clipped"] == int(dual.sum())
    if dual_clip:
        assert 0 < sums["dual_clipped"] < int((a < 0).sum())

    loss.backward()
    expected_grads = torch.autograd.grad(expected, list(model.parameters()))
    for (name, p), e in zip(model.named_parameters(), expected_grads):
        torch.testing.assert_close(p.grad, e, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("temperature", [0.7, 0.0])
def test_old_logprobs_are_the_samplers_and_the_first_ratio_is_one(monkeypatch, temperature):
    """At topP 1 the policy's log-probs of its rollouts are those the sampler drew them with (at temperature 0, the
    model's own, the sampler's greedy log-probs), and the first update's ratios are exactly 1."""
    drawn = []

    def recording_sample(*args, **kwargs):
        completions = sample(*args, **kwargs)
        drawn.extend(completions)
        return completions

    sample = algorithms.sample
    monkeypatch.setattr(algorithms, "sample", recording_sample)
    model = toy_model(VOCAB, seed=1)
    stage = make_stage("grpo", model, ToyData(VOCAB, prompts=4), rewards=TargetTokenReward(TARGET),
                       temperature=temperature, gradAccum=2, **TOY)
    olds, ratios = [], []
    rollout_logprobs, policy_loss = stage.rollout_logprobs, stage.policy_loss

    def recording_logprobs(model, batches):
        olds.append(rollout_logprobs(model, batches))
        return olds[-1]

    def checking_loss(batch, old, *args):
        now = stage.token_logprobs(stage.model, batch)
        ratios.append(torch.exp(now - old)[batch.targets != -100])
        return policy_loss(batch, old, *args)

    monkeypatch.setattr(stage, "rollout_logprobs", recording_logprobs)
    monkeypatch.setattr(stage, "policy_loss", checking_loss)
    metrics = stage.step(1)
    assert len(olds) == 1 and len(drawn) == 4 * 8 and len(ratios) == 2
    for completion, old in zip(drawn, olds[0]):
        assert len(completion.tokens) == 6
        torch.testing.assert_close(old, torch.tensor(completion.logprobs), rtol=1e-5, atol=1e-5)
    assert all(bool((r == 1).all()) for r in ratios)
    assert metrics["clip_fraction"] == 0


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
