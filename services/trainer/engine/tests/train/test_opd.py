"""On-policy distillation: a student learns a teacher (trained by SFT on the toy language) under every divergence,
with the full teacher and with its local top-K; each example of a step is on-policy or the dataset's, drawn per
example."""

import pytest
import torch
import torch.nn.functional as F

from sovereign_engine import algorithms
from sovereign_engine.algorithms import Stage, build_rows, teacher_topk
from toys import ToyData, make_stage, toy_model

VOCAB = 32


@pytest.fixture(scope="module")
def teacher():
    model = toy_model(VOCAB, seed=5)
    stage = make_stage("sft", model, ToyData(VOCAB, seed=9), total_steps=40, lr=1e-2, schedule="constant")
    losses = [stage.step(step)["loss"] for step in range(1, 41)]
    assert losses[-1] < 0.3, "the teacher must know the toy language"
    return model


def held_out_kl(student, teacher):
    """KL(teacher || student) per trained token of unseen rows, from full logits (plain PyTorch)."""
    frame = ToyData(VOCAB, seed=123).batch(0, "train")
    ids, labels, pos = (frame[n].long() for n in ("input_ids", "labels", "position_ids"))
    with torch.no_grad():
        logq = student.logits(student(ids, pos)).log_softmax(-1)
        logp = teacher.logits(teacher(ids, pos)).log_softmax(-1)
    per_token = (logp.exp() * (logp - logq)).sum(-1)
    return float(per_token[labels != -100].mean())


@pytest.mark.parametrize(
    "settings",
    [{}, {"topK": 4}, {"divergence": "jsd", "beta": 0.5}, {"divergence": "reverse_kl"}],
    ids=["forward_kl", "top4", "jsd", "reverse_kl"],
)
def test_student_kl_to_the_teacher_falls(teacher, settings):
    student = toy_model(VOCAB, seed=1)
    # Reverse KL, mode-seeking from a random student's own distribution, takes longer to bring the full KL down.
    steps = 30 if settings.get("divergence") == "reverse_kl" else 20
    stage = make_stage("opd", student, ToyData(VOCAB, seed=1), teacher=teacher, total_steps=steps, lr=1e-2,
                       schedule="constant", maxTokens=6, stopIds=[], gradAccum=2, **{"lambda": 0.5, **settings})
    before = held_out_kl(student, teacher)
    metrics = [stage.step(step) for step in range(1, steps + 1)]
    after = held_out_kl(student, teacher)
    assert after < 0.3 * before, (before, after)
    assert all(torch.isfinite(torch.tensor(list(m.values()))).all() for m in metrics)
    assert metrics[-1]["kl"] < 0.3 * metrics[0]["kl"]
    assert any(0 < m["sampled_fraction"] < 1 for m in metrics)  # steps mixing sampled and dataset examples
    if not settings:
        assert all(m["loss"] == pytest.approx(m["kl"], rel=1e-5) for m in metrics)  # forward KL is the logged kl
    assert not any(p.requires_grad for p in teacher.parameters())


@pytest.mark.parametrize("sampled", [False, True], ids=["dataset-responses", "sampled"])
def test_step_loss_matches_plain_pytorch(teacher, sampled):
    """The loss is the token-mean divergence at the positions predicting the completion tokens: the dataset's
    responses to the step's prompts, or the student's own completions of them."""
    student = toy_model(VOCAB, seed=1)
    data = ToyData(VOCAB, seed=1)
    stage = make_stage("opd", student, data, teacher=teacher, lr=0.0, divergence="jsd", beta=0.3, maxTokens=5,
                       stopIds=[], temperature=1.5, **{"lambda": float(sampled)})
    frame = data.batch(1, "prompts")
    if sampled:
        prompts, completions = stage.sample(1, frame)  # the step's own draws: seeded by it
        assert completions != frame.completions()
    else:
        prompts, completions = frame.prompts(), frame.completions()
    ids, targets = build_rows(prompts, completions)
    pos, trained = None, targets != -100
    assert int(trained.sum()) == 5 * len(prompts)
    with torch.no_grad():
        logq = student.logits(student(ids, pos)).log_softmax(-1)[trained]
        logp = teacher.logits(teacher(ids, pos)).log_softmax(-1)[trained]
    p, q = logp.exp(), logq.exp()
    log_m = torch.log(0.3 * p + 0.7 * q)
    jsd = 0.3 * (p * (logp - log_m)).sum(-1) + 0.7 * (q * (logq - log_m)).sum(-1)
    metrics = stage.step(1)
    assert metrics["loss"] == pytest.approx(float(jsd.mean()), rel=1e-5)
    assert metrics["kl"] == pytest.approx(float((p * (logp - logq)).sum(-1).mean()), rel=1e-5)
    assert metrics["sampled_fraction"] == float(sampled)


class Recording(ToyData):
    """ToyData whose prompts frame is remembered, to read the step's examples back."""

    def batch(self, step, role):
        self.frame = super().batch(step, role)
        return self.frame


def test_lambda_is_drawn_per_example_and_a_step_mixes_sampled_and_dataset_examples(teacher, monkeypatch):
    """With lambda 0.25 a step of 400 examples samples about a quarter of them and trains the others on their
    dataset responses, in one step of 400 examples; which ones is a function of (seed, step, position) alone."""
    student = toy_model(VOCAB, seed=1)
    data = Recording(VOCAB, seed=2, prompts=400)
    stage = make_stage("opd", student, data, teacher=teacher, lr=0.0, maxTokens=2, stopIds=[], seed=7,
                       **{"lambda": 0.25})
    drawn, built = {}, []

    def sample_prompts(step, prompts, positions, group=1):
        out = Stage.sample_prompts(stage, step, prompts, positions, group)
        drawn.update(zip(positions, out[1]))
        return out

    def rows(prompts, completions):
        built.append((prompts, completions))
        return build_rows(prompts, completions)

    monkeypatch.setattr(stage, "sample_prompts", sample_prompts)
    monkeypatch.setattr(algorithms, "build_rows", rows)
    metrics = [stage.step(step) for step in (1, 2)]
    for m in metrics:
        assert 0.18 < m["sampled_fraction"] < 0.32, m  # a binomial(400, 0.25) share: 0.25 +- 3 sd
    # Step 2's examples: the sampled ones carry the student's completions (2 tokens), the others the dataset's.
    prompts, completions = built[-1]
    responses = data.frame.completions()
    assert len(prompts) == 400
    sampled = [i for i in range(400) if stage.on_policy(2, i)]
    assert len(sampled) / 400 == metrics[-1]["sampled_fraction"]
    for i in range(400):
        if i in sampled:
            assert completions[i] == drawn[i] and len(completions[i]) == 2
        else:
            assert completions[i] == responses[i] and len(completions[i]) == 5
    # The draws are the run's: another stage of the same seed draws the same examples, another seed others.
    again = make_stage("opd", toy_model(VOCAB, seed=1), data, teacher=teacher, seed=7, **{"lambda": 0.25})
    other = make_stage("opd", toy_model(VOCAB, seed=1), data, teacher=teacher, seed=8, **{"lambda": 0.25})
    assert [again.on_policy(2, i) for i in range(400)] == [stage.on_policy(2, i) for i in range(400)]
    assert [other.on_policy(2, i) for i in range(400)] != [stage.on_policy(2, i) for i in range(400)]


def test_dataset_examples_need_the_prompts_dataset_responses(teacher):
    data = ToyData(VOCAB, seed=1, responses=False)
    stage = make_stage("opd", toy_model(VOCAB, seed=1), data, teacher=teacher, **{"lambda": 0.5})
    with pytest.raises(ValueError, match="lambda 0.5 trains some examples on their dataset responses, but the "
                                         "prompts frame has none"):
        stage.step(1)
    # RL prompts train with every example sampled.
    stage = make_stage("opd", toy_model(VOCAB, seed=1), data, teacher=teacher, maxTokens=3, stopIds=[],
                       **{"lambda": 1.0})
    assert stage.step(1)["sampled_fraction"] == 1.0


def test_teacher_topk_is_computed_in_chunks_like_full_topk():
    g = torch.Generator().manual_seed(0)
    hidden, weight = torch.randn(37, 16, generator=g), torch.randn(50, 16, generator=g)
    ids, logprobs = teacher_topk(hidden, weight, 5, chunk_size=8)
    expected = (hidden @ weight.t()).log_softmax(-1).topk(5, dim=-1)
    assert torch.equal(ids, expected.indices)
    torch.testing.assert_close(logprobs, expected.values)
    assert teacher_topk(hidden[:0], weight, 5)[0].shape == (0, 5)


def test_build_rows_targets_only_completion_tokens():
    ids, targets = build_rows([[1, 2, 3], [4]], [[5, 6], []])
    assert ids.tolist() == [[1, 2, 3, 5, 6], [4, 0, 0, 0, 0]]
    assert targets.tolist() == [[-100, -100, 5, 6, -100], [-100] * 5]
    # Position t predicts token t + 1: the targets are the completion, shifted by one.
    assert F.pad(ids[0, 1:], (0, 1), value=-100)[targets[0] != -100].tolist() == [5, 6]
