"""The run loop: SFT learning, bit-exact resume from a checkpoint, SIGTERM handling, failures and config parsing."""

import os
import signal

import pytest
import torch
from safetensors.torch import load_file

from sovereign_engine.algorithms import Hyper, RunConfig
from sovereign_engine.checkpoint import save_checkpoint
from sovereign_engine.train import EXIT_SIGTERM, load_model, run
from toys import RecordingSink, TargetTokenReward, ToyData, make_stage, toy_model


def test_sft_loss_falls_on_a_repeated_pattern():
    torch.manual_seed(0)
    stage = make_stage("sft", toy_model(), ToyData(vocab=32), total_steps=30, lr=1e-2, warmupSteps=3)
    losses = [stage.step(step)["loss"] for step in range(1, 31)]
    assert losses[0] > 3.0  # about log(32) at the start
    assert sum(losses[-5:]) / 5 < 0.4 * losses[0]


def base_model(tmp_path, vocab):
    path = str(tmp_path / "base")
    save_checkpoint(toy_model(vocab, seed=3), path)
    return path


STAGE_SETTINGS = {
    "sft": dict(vocab=32, hyper=dict(lr=5e-3, warmupSteps=2, gradAccum=2, weightDecay=0.1, checkpointEvery=5)),
    "ink-grpo": dict(vocab=16, hyper=dict(lr=5e-3, warmupSteps=2, gradAccum=2, checkpointEvery=5, groupSize=4,
                                          maxTokens=4, stopIds=[], temperature=0.9, ppoEpochs=2, klCoef=0.05)),
}


@pytest.mark.parametrize("stage", sorted(STAGE_SETTINGS))
def test_resumed_run_repeats_the_uninterrupted_one_bit_for_bit(tmp_path, stage):
    settings = STAGE_SETTINGS[stage]
    vocab = settings["vocab"]
    model = {"path": base_model(tmp_path, vocab)}

    def config(directory, resume=None):
        return RunConfig(stage=stage, model=model, total_steps=10, seed=4, hyper=Hyper.from_dict(settings["hyper"]),
                         checkpoint_dir=str(tmp_path / directory), resume=resume)

    whole = RecordingSink()
    assert run(config("whole"), ToyData(vocab, prompts=2), TargetTokenReward(5), whole) == 0
    assert [step for step, _, _ in whole.checkpoints] == [5, 10]
    assert whole.statuses[0][0] == "running" and whole.statuses[-1][0] == "succeeded"

    resumed = RecordingSink()
    resume = {"step": 5, "path": str(tmp_path / "whole" / "step-5")}
    assert run(config("resumed", resume), ToyData(vocab, prompts=2), TargetTokenReward(5), resumed) == 0
    assert sorted(resumed.metric_log) == [6, 7, 8, 9, 10]
    for step in range(6, 11):
        assert resumed.metric_log[step].keys() == whole.metric_log[step].keys()
        for name, value in whole.metric_log[step].items():
            if name != "tokens_per_s":
                assert resumed.metric_log[step][name] == value, (step, name)
    a = load_file(str(tmp_path / "whole" / "step-10" / "model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "step-10" / "model.safetensors"))
    assert all(torch.equal(a[name], b[name]) for name in a)
    if stage == "ink-grpo":
        assert any(m["ce_applied"] for step, m in whole.metric_log.items() if step > 5)


def test_sigterm_finishes_the_step_checkpoints_and_exits_143(tmp_path):
    data = ToyData(vocab=32)

    def terminate_during_step_3(step, role):
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    data.on_request = terminate_during_step_3
    sink = RecordingSink()
    before = signal.getsignal(signal.SIGTERM)
    config = RunConfig(stage="sft", model={"path": base_model(tmp_path, 32)}, total_steps=10,
                       hyper=Hyper(lr=1e-3), checkpoint_dir=str(tmp_path / "ck"))
    assert run(config, data, None, sink) == EXIT_SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back
    assert sorted(sink.metric_log) == [1, 2, 3]
    assert [(step, path) for step, path, _ in sink.checkpoints] == [(3, str(tmp_path / "ck" / "step-3"))]
    assert sink.statuses[-1][0] == "failed" and "SIGTERM after step 3" in sink.statuses[-1][1]
    names = {f["name"] for f in sink.checkpoints[0][2]}
    assert {"model.safetensors", "state/.metadata", "trainer_state-rank0.pt"} <= names  # weights when stopping

    # SIGTERM during the last step: the run is complete, so it succeeds.
    sink = RecordingSink()
    config.total_steps, config.checkpoint_dir = 3, str(tmp_path / "last")
    assert run(config, data, None, sink) == 0
    assert [step for step, _, _ in sink.checkpoints] == [3] and sink.statuses[-1][0] == "succeeded"


def test_a_failing_step_reports_failed_with_the_message(tmp_path):
    class Broken(ToyData):
        def batch(self, step, role):
            raise ConnectionError("service went away")

    sink = RecordingSink()
    config = RunConfig(stage="sft", model={"path": base_model(tmp_path, 32)}, total_steps=3, hyper=Hyper(),
                       checkpoint_dir=str(tmp_path / "ck"))
    with pytest.raises(ConnectionError):
        run(config, Broken(32), None, sink)
    assert sink.statuses[-1] == ("failed", "ConnectionError: service went away")


def test_config_parsing():
    config = RunConfig.from_dict({
        "stage": "ink-grpo", "model": {"tiny": "tiny", "seed": 1}, "totalSteps": 5, "seqLen": 64, "seed": 3,
        "checkpointDir": "/ck", "resume": None, "datasets": ["ignored"],
        "hyper": {"lr": 1e-4, "lambda": 0.3, "groupSize": 4, "ceCoef": 0.2, "stopIds": [2], "cpuOffload": True},
    })
    assert (config.total_steps, config.seq_len, config.checkpoint_dir) == (5, 64, "/ck")
    assert (config.hyper.lr, config.hyper.lambda_, config.hyper.group_size) == (1e-4, 0.3, 4)
    assert (config.hyper.ce_coef, config.hyper.ce_prob, config.hyper.stop_ids) == (0.2, 0.6, [2])
    assert config.hyper.cpu_offload and not config.hyper.teacher_offload
    with pytest.raises(ValueError, match=r"unknown hyper setting\(s\) \['learningRate'\]"):
        Hyper.from_dict({"learningRate": 1e-4})
    with pytest.raises(ValueError, match="divergence must be one of"):
        Hyper.from_dict({"divergence": "kl"})
    with pytest.raises(ValueError, match="stage must be one of"):
        RunConfig.from_dict({"stage": "dpo", "model": {}, "totalSteps": 1})
    with pytest.raises(ValueError, match="needs 'path' or 'tiny'"):
        load_model({"hub": "Qwen/Qwen3-0.6B"}, torch.device("cpu"))
