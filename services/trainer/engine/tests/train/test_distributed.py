"""FSDP2 over two CPU ranks (gloo, a process each, started as torchrun starts them) against one rank in this process.

Two ranks give the one-rank run step for step (the same sums, taken in another order): the same rollouts, and
rewards, losses, KL and gradient norms within 1e-5 relative (1e-6 absolute), the weights' moves within 1e-4 of
their size, for SFT, OPD (on-policy and dataset examples, the full teacher and its top-K), InK-GRPO (with a
reference model) and GRPO in mini-batches, with the ranks holding unequal token counts.
A two-rank run resumed from a sharded checkpoint repeats the uninterrupted one bit for bit, and a stop (SIGTERM to
one rank, or the service's answer to rank 0) makes both ranks checkpoint the same step and exit 143.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file

from sovereign_engine.algorithms import RunConfig
from sovereign_engine.checkpoint import load_checkpoint, save_checkpoint
from sovereign_engine.kernels import linear_cross_entropy
from sovereign_engine.train import EXIT_SIGTERM, run
from toys import RankData, RecordingSink, TargetTokenReward, ToyData, toy_model

RANKS = Path(__file__).with_name("ranks.py")
RTOL = 1e-5

CASES = {
    "sft": dict(stage="sft", vocab=32, hyper=dict(lr=1e-2, warmupSteps=1, gradAccum=2, weightDecay=0.1)),
    "opd": dict(stage="opd", vocab=32, hyper=dict(lr=1e-2, gradAccum=2, maxTokens=5, stopIds=[7], **{"lambda": 0.5})),
    "opd-topk": dict(stage="opd", vocab=32, hyper=dict(lr=1e-2, gradAccum=2, maxTokens=5, stopIds=[7], topK=4,
                                                       divergence="reverse_kl", **{"lambda": 0.5})),
    "ink-grpo": dict(stage="ink-grpo", vocab=16, hyper=dict(lr=1e-2, gradAccum=2, groupSize=4, maxTokens=5,
                                                            stopIds=[3], temperature=1.3, ppoEpochs=2, klCoef=0.05,
                                                            ceCoef=0.5, ceProb=0.6)),
    # 16 rollouts a step in mini-batches of 8, each rank holding 4 of each, packed 2 to a micro-batch (4 on one rank).
    # Four updates a step: with AdamW's default eps, the first update moves the entries whose gradient is all but 0
    # by about lr whatever its sign, which the rounding of another packing flips; a larger eps keeps them still.
    "grpo-minibatch": dict(stage="grpo", vocab=16, hyper=dict(lr=1e-2, adamEps=1e-5, gradAccum=2, groupSize=4,
                                                              maxTokens=5, stopIds=[3], temperature=0.8, ppoEpochs=2,
                                                              miniBatchSize=8, dualClip=1.5, advantageStd="sample",
                                                              klCoef=0.05)),
}


def launch(folder: Path, spec: dict, world: int = 2, timeout: float = 600):
    """Runs the spec's ranks as processes; their exit statuses and what each wrote. As under torch's launcher, the
    ranks' rendezvous store is served from outside them (here, this process), so none outlives another's."""
    folder.mkdir(parents=True)
    (folder / "spec.json").write_text(json.dumps({**spec, "out": str(folder)}))
    store = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False)
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(store.port),
           "TORCHELASTIC_USE_AGENT_STORE": "True"}
    procs = []
    for rank in range(world):
        with open(folder / f"rank-{rank}.log", "w") as log:
            command = [sys.executable, str(RANKS), str(folder / "spec.json"), str(rank), str(world)]
            procs.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
    try:
        codes = [p.wait(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        del store
    logs = "\n".join((folder / f"rank-{r}.log").read_text()[-3000:] for r in range(world))
    assert all(code in (0, EXIT_SIGTERM) for code in codes), f"exit statuses {codes}\n{logs}"
    return codes, [json.loads((folder / f"rank-{r}.json").read_text()) for r in range(world)]


def spec_for(tmp_path: Path, case: str, steps: int, name: str, **extra) -> dict:
    settings = CASES[case]
    vocab = settings["vocab"]
    base, teacher = tmp_path / "base", tmp_path / "teacher"
    if not base.exists():
        save_checkpoint(toy_model(vocab, seed=3), str(base))
        # A peaked teacher: two near-uniform random models would differ by a KL of about 0.01, a small difference
        # of large terms whose rounding (and Adam's reading of it) would dwarf the sums' order.
        save_checkpoint(toy_model(vocab, seed=5, initializer_range=0.2), str(teacher))
    config = {"stage": settings["stage"], "model": {"path": str(base)}, "totalSteps": steps, "seed": 11,
              "hyper": settings["hyper"], "checkpointDir": str(tmp_path / name / "checkpoints")}
    if settings["stage"] == "opd":
        config["teacher"] = {"path": str(teacher)}
    spec = {"config": config, "data": {"vocab": vocab, "prompts": 4}, "uneven": True, "target": 5}
    for key, value in extra.items():
        if key in ("resume", "hyper_update"):
            continue
        spec[key] = value
    if "resume" in extra:
        config["resume"] = extra["resume"]
    config["hyper"] = {**config["hyper"], **extra.get("hyper_update", {})}
    return spec


def run_here(spec: dict):
    """The spec's run on one rank in this process."""
    sink, rewards = RecordingSink(), TargetTokenReward(spec["target"])
    data = RankData(ToyData(**spec["data"]), 0, 1, uneven=spec["uneven"])
    assert run(RunConfig.from_dict(spec["config"]), data, rewards, sink) == 0
    return sink, rewards


def rank_loss_sum(base: Path, spec: dict, rank: int):
    """The cross-entropy sum and token count of a rank's step-1 rows under the base model."""
    model = load_checkpoint(str(base))
    frame = RankData(ToyData(**spec["data"]), rank, 2, uneven=spec["uneven"]).batch(1, "train")
    ids, labels, positions = (frame[name].long() for name in ("input_ids", "labels", "position_ids"))
    with torch.no_grad():
        hidden = model(ids, positions).flatten(0, 1)
        total = linear_cross_entropy(hidden, model.lm_head_weight(), labels.flatten(), reduction="sum")
    return float(total), int((labels != -100).sum())


def close(a: float, b: float) -> bool:
    """Within RTOL relative, or 1e-6 absolute for values that are small differences of larger terms (GRPO's loss)."""
    return abs(a - b) <= max(RTOL * max(abs(a), abs(b)), 1e-6)


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_ranks_give_the_one_rank_run_step_for_step(tmp_path, case):
    steps = 4
    spec = spec_for(tmp_path, case, steps, "two")
    codes, ranks = launch(tmp_path / "two", spec)
    assert codes == [0, 0]
    one_spec = spec_for(tmp_path, case, steps, "one")
    sink, rewards = run_here(one_spec)

    metrics = ranks[0]["metrics"]
    assert sorted(map(int, metrics)) == list(range(1, steps + 1)) and ranks[1]["metrics"] == {}  # rank 0 posts
    for step in range(1, steps + 1):
        two, one = metrics[str(step)], sink.metric_log[step]
        assert two.keys() == one.keys()
        for name in one:
            if name != "tokens_per_s":
                assert close(two[name], one[name]), (step, name, two[name], one[name])
    if case == "sft":
        # Step 1's loss is the base model's token mean over both ranks' rows, not the mean of the ranks' token means
        # (what averaging per-rank means gave), which the unequal token counts set apart by far more than RTOL.
        sums = [rank_loss_sum(tmp_path / "base", spec, rank) for rank in (0, 1)]
        token_mean = sum(s for s, _ in sums) / sum(n for _, n in sums)
        mean_of_means = sum(s / n for s, n in sums) / 2
        assert sums[0][1] != sums[1][1] and close(metrics["1"]["loss"], token_mean)
        assert abs(mean_of_means - token_mean) > 10 * RTOL * token_mean
    if case.startswith("opd"):
        # Steps mixing on-policy and dataset examples, the same ones on two ranks as on one (the metrics agree).
        fractions = [sink.metric_log[s]["sampled_fraction"] for s in range(1, steps + 1)]
        assert any(0 < f < 1 for f in fractions), fractions
    # Each prompt drew the same completions: rank 0's prompts, then rank 1's, are the one rank's.
    one_rollouts = [[[r.prompt_ids, r.completion_ids] for r in call] for call in rewards.calls]
    two_rollouts = [[r[1:] for r in c0 + c1] for c0, c1 in zip(ranks[0]["rollouts"], ranks[1]["rollouts"])]
    assert two_rollouts == one_rollouts
    if one_rollouts:
        lengths = {len(completion) for call in one_rollouts for _, completion in call}
        assert len(lengths) > 1, "completions of one length would leave the ranks' token counts equal"

    # The weights moved alike. AdamW divides each entry's update by that entry's own gradient scale, so where a
    # gradient is all but zero the sums' rounding shows in the weight: the moves are compared as a whole, per tensor.
    folder = tmp_path / "{}" / "checkpoints" / f"step-{steps}" / "model.safetensors"
    two, one = load_file(str(folder).format("two")), load_file(str(folder).format("one"))
    start = load_file(tmp_path / "base" / "model.safetensors")
    assert two.keys() == one.keys() == start.keys()
    for name in one:
        moved = (one[name] - start[name]).norm()
        assert float((two[name] - one[name]).norm()) <= 1e-4 * float(moved), name


def test_a_two_rank_run_resumed_from_a_sharded_checkpoint_repeats_itself_bit_for_bit(tmp_path):
    every = {"checkpointEvery": 3}
    _, whole = launch(tmp_path / "whole", spec_for(tmp_path, "ink-grpo", 6, "whole", hyper_update=every))
    assert [step for step, _, _ in whole[0]["checkpoints"]] == [3, 6]
    names = {f["name"] for f in whole[0]["checkpoints"][0][2]}
    assert {"config.json", "state/.metadata", "trainer_state-rank0.pt", "trainer_state-rank1.pt"} <= names
    assert "model.safetensors" not in names  # an intermediate checkpoint is the sharded state alone

    resume = {"step": 3, "path": str(tmp_path / "whole" / "checkpoints" / "step-3")}
    _, resumed = launch(tmp_path / "resumed",
                        spec_for(tmp_path, "ink-grpo", 6, "resumed", hyper_update=every, resume=resume))
    assert sorted(map(int, resumed[0]["metrics"])) == [4, 5, 6]
    for step in ("4", "5", "6"):
        for name, value in whole[0]["metrics"][step].items():
            if name != "tokens_per_s":
                assert resumed[0]["metrics"][step][name] == value, (step, name)
    for rank in (0, 1):
        assert resumed[rank]["rollouts"] == whole[rank]["rollouts"][3:]
    step6 = "{}/checkpoints/step-6/model.safetensors"
    a, b = load_file(tmp_path / step6.format("whole")), load_file(tmp_path / step6.format("resumed"))
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert any(m["ce_applied"] for step, m in whole[0]["metrics"].items() if int(step) > 3)

    # One rank resumes the two ranks' checkpoint: DCP reshards the model and AdamW's state, the draws are the
    # step's, so the run goes on as on two ranks, up to the sums' rounding.
    sink, _ = run_here(spec_for(tmp_path, "ink-grpo", 6, "one", hyper_update=every, resume=resume))
    for step in (4, 5, 6):
        for name, value in whole[0]["metrics"][str(step)].items():
            if name != "tokens_per_s":
                assert close(sink.metric_log[step][name], value), (step, name)


@pytest.mark.parametrize("how", ["sigterm-to-rank-1", "service-answers-stop"])
def test_a_stop_makes_both_ranks_checkpoint_the_same_step_and_exit_143(tmp_path, how):
    stop = {"sigterm": [1, 3]} if how == "sigterm-to-rank-1" else {"stop_at": 3}
    codes, ranks = launch(tmp_path / "run", spec_for(tmp_path, "sft", 8, "run", **stop))
    assert codes == [EXIT_SIGTERM, EXIT_SIGTERM]
    assert sorted(map(int, ranks[0]["metrics"])) == [1, 2, 3]
    assert [(step, path) for step, path, _ in ranks[0]["checkpoints"]] == [
        (3, str(tmp_path / "run" / "checkpoints" / "step-3"))
    ]
    assert ranks[1]["checkpoints"] == []  # rank 0 posts the checkpoint both wrote
    names = {f["name"] for f in ranks[0]["checkpoints"][0][2]}
    assert {"model.safetensors", "state/.metadata", "trainer_state-rank0.pt", "trainer_state-rank1.pt"} <= names
    why = "by SIGTERM" if how == "sigterm-to-rank-1" else "at the service's request"  # on both ranks: agreed
    for result in ranks:
        assert result["statuses"][-1] == ["failed", f"stopped {why} after step 3 of 8, checkpoint saved"]
