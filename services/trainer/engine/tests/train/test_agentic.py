"""Multi-turn rollouts with tools (agentic.py) and GRPO over them, on a toy tool-use task.

The toy language: a prompt [Q, x] asks for a secret answer that only the tool knows (a fresh one per prompt,
so it cannot be memorized). A turn that starts with CALL is a tool call; the turn source answers it with
[RESP, y, GEN]: the tool turn with the answer y, and the next assistant header. The reward is 1 when the last
assistant turn (after the last GEN) starts with y.
"""

import hashlib
from typing import List, Optional

import pytest
import torch

import sovereign_engine.algorithms as algorithms
from sovereign_engine.agentic import agentic_rollouts, turn_seed
from sovereign_engine.algorithms import RunConfig, build_rows, pack_rollouts
from sovereign_engine.frames import Frame
from sovereign_engine.sampler import sample
from toys import make_stage, prompt_frame, toy_model

VOCAB = 24
END, Q, CALL, RESP, GEN = 1, 2, 3, 4, 5
ANSWERS = list(range(8, 16))
QUESTIONS = list(range(16, 24))


def secret(name: str) -> int:
    """The answer the tool gives for a prompt: fixed per prompt id, unknown from the prompt's tokens."""
    return ANSWERS[hashlib.sha256(name.encode()).digest()[0] % len(ANSWERS)]


def last_turn(completion: List[int]) -> List[int]:
    return completion[len(completion) - completion[::-1].index(GEN):] if GEN in completion else completion


class ToolWorld:
    """The service's side of the toy task: the turn source (runs the 'tool') and the reward source."""

    def __init__(self):
        self.turn_calls: List[list] = []
        self.reward_calls: List[list] = []

    def turns(self, step, rollouts) -> List[Optional[List[int]]]:
        self.turn_calls.append(list(rollouts))
        return [[RESP, secret(r.prompt), GEN] if last_turn(r.completion_ids)[:1] == [CALL] else None
                for r in rollouts]

    def rewards(self, step, rollouts):
        self.reward_calls.append(list(rollouts))
        return torch.tensor([float(last_turn(r.completion_ids)[:1] == [secret(r.prompt)]) for r in rollouts])


class ToolTaskData:
    """`prompts`: [Q, x] with ids naming the step; `train`: the SFT warm start, a mixture of rollouts that call
    the tool and answer with its result, and rollouts that answer at once (with a guess)."""

    def __init__(self, prompts: int = 4, rows: int = 8):
        self.prompts, self.rows = prompts, rows

    def batch(self, step: int, role: str) -> Frame:
        g = torch.Generator().manual_seed(1000 + step)
        if role == "prompts":
            frame = prompt_frame([[Q, QUESTIONS[int(torch.randint(8, (), generator=g))]] for _ in range(self.prompts)])
            frame.header["prompts"] = [{"id": f"s{step}p{i}", "index": i} for i in range(self.prompts)]
            return frame
        ids, labels, positions = [], [], []
        for _ in range(self.rows):
            row_ids, row_labels, row_pos = [], [], []
            for d in range(4):
                x = QUESTIONS[int(torch.randint(8, (), generator=g))]
                y = ANSWERS[int(torch.randint(8, (), generator=g))]
                if d % 2 == 0:  # calls the tool: trained on CALL END and on the answer after the tool turn
                    doc, trained = [Q, x, CALL, END, RESP, y, GEN, y, END], [0, 0, 1, 1, 0, 0, 0, 1, 1]
                else:  # answers at once with a guess
                    doc, trained = [Q, x, y, END], [0, 0, 1, 1]
                row_ids += doc
                row_labels += [t if m else -100 for t, m in zip(doc[1:], trained[1:])] + [-100]
                row_pos += list(range(len(doc)))
            ids.append(row_ids)
            labels.append(row_labels)
            positions.append(row_pos)
        width = max(map(len, ids))
        pad = lambda rows, v: [r + [v] * (width - len(r)) for r in rows]  # noqa: E731
        arrays = {"input_ids": pad(ids, 0), "labels": pad(labels, -100), "position_ids": pad(positions, 0)}
        return Frame({"role": "train"}, {k: torch.tensor(v, dtype=torch.int32) for k, v in arrays.items()})


class Scripted:
    """A turn source with fixed answers per call, recording what it was asked."""

    def __init__(self, answers):
        self.answers, self.asked = list(answers), []

    def turns(self, step, rollouts):
        self.asked.append([(r.prompt, list(r.prompt_ids), list(r.completion_ids)) for r in rollouts])
        return self.answers.pop(0)


def test_rollouts_append_the_services_tokens_masked_and_stop_when_done_or_out_of_turns():
    model = toy_model(VOCAB, seed=3)
    prompts, names, seeds = [[Q, 16], [Q, 17], [Q, 18]], ["a", "b", "c"], [11, 12, 13]
    # Turn 1: a is done, b and c get tool turns; turn 2: c gets another; the third turn is the last (maxTurns 3).
    source = Scripted([[None, [RESP, 9, GEN], [RESP, 10, GEN]], [None, [RESP, 11, GEN]]])
    out = agentic_rollouts(model, prompts, names, seeds, source, 7, max_turns=3, max_new_tokens=4,
                           stop_ids=[END])
    assert [r.turns for r in out] == [1, 2, 3] and [r.appended for r in out] == [0, 1, 2]
    assert len(source.asked) == 2 and [n for n, _, _ in source.asked[0]] == ["a", "b", "c"]
    assert [n for n, _, _ in source.asked[1]] == ["b", "c"]  # only live rollouts are asked about
    first = sample(model, prompts, max_new_tokens=4, stop_ids=[END], seeds=seeds)
    for r, f in zip(out, first):  # turn 0 is what plain sampling draws
        assert r.completion_ids[: len(f.tokens)] == f.tokens
    c = out[2]
    assert len(c.mask) == len(c.completion_ids)
    appended = [i for i, m in enumerate(c.mask) if m == 0]
    assert [c.completion_ids[i] for i in appended] == [RESP, 10, GEN, RESP, 11, GEN]
    # What the service was asked about c the second time: everything so far, its first tool turn included.
    assert source.asked[1][1][2] == c.completion_ids[: len(source.asked[1][1][2])]
    assert source.asked[1][1][2][-3:] != [RESP, 10, GEN]  # a turn was generated after the append
    # The generated turn after an append continues the context (prompt, turn, tool turn).
    ctx = prompts[2] + c.completion_ids[: appended[2] + 1]
    turn1 = sample(model, [ctx], max_new_tokens=4, stop_ids=[END], seeds=[turn_seed(13, 1)])[0].tokens
    assert c.completion_ids[appended[2] + 1: appended[2] + 1 + len(turn1)] == turn1


def test_rollouts_end_within_the_token_budget():
    model = toy_model(VOCAB, seed=3)
    source = Scripted([[[RESP, 9, GEN]], [[RESP, 9, GEN]], [[RESP, 9, GEN]]])
    out = agentic_rollouts(model, [[Q, 16]], ["a"], [5], source, 1, max_turns=4, max_new_tokens=4, budget=12)
    r = out[0]
    assert len(r.prompt_ids) + len(r.completion_ids) <= 12
    assert r.mask[-1] == 1  # never ends on an append that leaves the policy no room to answer


def test_build_rows_masks_appended_tokens_out_of_the_targets():
    ids, targets = build_rows([[1, 2], [3]], [[4, 5, 6, 7], [8, 9]], masks=[[1, 0, 0, 1], None])
    assert ids.tolist() == [[1, 2, 4, 5, 6, 7], [3, 8, 9, 0, 0, 0]]
    assert targets.tolist() == [[-100, 4, -100, -100, 7, -100], [8, 9, -100, -100, -100, -100]]
    with pytest.raises(ValueError, match="completion 0 has 2 tokens and a mask of 1"):
        build_rows([[1]], [[2, 3]], masks=[[1]])


def test_run_config_reads_tools_for_grpo_stages_only():
    config = RunConfig.from_dict({"stage": "grpo", "model": {}, "totalSteps": 1,
                                  "tools": {"names": ["statute_search"], "maxTurns": 3}})
    assert config.tools["maxTurns"] == 3
    with pytest.raises(ValueError, match="tools.maxTurns must be an integer of at least 1"):
        RunConfig.from_dict({"stage": "grpo", "model": {}, "totalSteps": 1, "tools": {"names": []}})
    with pytest.raises(ValueError, match="tools are for GRPO stages, not 'sft'"):
        RunConfig.from_dict({"stage": "sft", "model": {}, "totalSteps": 1, "tools": {"maxTurns": 2}})


def test_grpo_with_tools_trains_only_generated_tokens(monkeypatch):
    world = ToolWorld()
    stage = make_stage("grpo", toy_model(VOCAB, seed=1), ToolTaskData(prompts=2), rewards=world, lr=1e-2,
                       schedule="constant", maxTokens=3, stopIds=[END], groupSize=4)
    stage.config.tools = {"names": ["toy"], "maxTurns": 2}
    built = []
    monkeypatch.setattr(algorithms, "pack_rollouts", lambda *a, **k: built.append(pack_rollouts(*a, **k)) or built[-1])
    metrics = stage.step(1)
    targets = built[0].targets[0]  # the first packed batch: every rollout of the step, in order
    rollouts = world.reward_calls[0]
    assert sum(len(r.prompt_ids) + len(r.completion_ids) for r in rollouts) == targets.numel()
    offset = 0
    for r in rollouts:
        appended = [RESP, secret(r.prompt), GEN]
        text = r.completion_ids
        at = next((i for i in range(len(text) - 2) if text[i:i + 3] == appended), None)
        row = targets[offset: offset + len(r.prompt_ids) + len(text)]
        offset += len(r.prompt_ids) + len(text)
        if at is not None:  # the tool turn's positions are never targets
            start = len(r.prompt_ids) - 1 + at
            assert row[start:start + 3].tolist() == [-100] * 3
        trained = int((row != -100).sum())
        assert trained == len(text) - (3 if at is not None else 0)
    assert 0 <= metrics["tool_call_fraction"] <= 1 and metrics["turns"] >= 1


def test_a_warm_started_policy_learns_to_call_the_tool():
    """SFT on a mixture (half the rollouts call the tool), then GRPO with the tool: only answers taken from the
    tool's result earn reward, so the share of rollouts that call it and the mean reward rise."""
    torch.manual_seed(0)
    data = ToolTaskData(prompts=4)
    model = toy_model(VOCAB, seed=1)
    sft = make_stage("sft", model, data, lr=1e-2, schedule="constant")
    for step in range(1, 201):
        sft.step(step)
    world = ToolWorld()
    grpo = make_stage("grpo", model, data, rewards=world, lr=2e-3, schedule="constant", maxTokens=3,
                      stopIds=[END], groupSize=8)
    grpo.config.tools = {"names": ["toy"], "maxTurns": 2}
    metrics = [grpo.step(step) for step in range(1, 21)]
    share = [m["tool_call_fraction"] for m in metrics]
    reward = [m["reward_mean"] for m in metrics]
    first, last = slice(0, 4), slice(-4, None)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    assert 0.1 < mean(share[first]) < 0.9, share  # the warm start calls the tool some of the time, not always
    assert mean(share[last]) > mean(share[first]) + 0.2, share
    assert mean(reward[last]) > mean(reward[first]) + 0.2, reward


def test_ink_grpo_takes_tools_too():
    world = ToolWorld()
    stage = make_stage("ink-grpo", toy_model(VOCAB, seed=1), ToolTaskData(prompts=2), rewards=world, lr=1e-2,
                       schedule="constant", maxTokens=3, stopIds=[END], groupSize=4, ceProb=1.0)
    stage.config.tools = {"names": ["toy"], "maxTurns": 2}
    metrics = stage.step(1)
    assert world.turn_calls and metrics["ce_applied"] == 1 and "tool_call_fraction" in metrics
