"""Where rollouts stop: hyper.stopIds, else the run's stopIds (the chat template's end of turn), else the eos ids of
the checkpoint's generation_config.json and config.json together; and the stop ids a run writes into its
checkpoints' generation_config.json for the next stage."""

import json

import pytest
import torch
import transformers

from sovereign_engine.algorithms import Hyper, RunConfig
from sovereign_engine.train import run
from toys import RecordingSink, TargetTokenReward, prompt_frame

ENDOFTEXT, IM_END = 151643, 151645


@pytest.fixture(scope="module")
def base_like(tmp_path_factory):
    """A Qwen3 folder as a base checkpoint ships: config.json's eos is <|endoftext|>, generation_config.json's
    <|im_end|>. Its weights answer a prompt ending in 10 with 11, then <|im_end|>, then 12 for ever: attention and
    MLP add nothing, so each position's logits come from its own token's embedding alone."""
    config = transformers.Qwen3Config(
        vocab_size=151936, hidden_size=16, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, head_dim=8, tie_word_embeddings=False, bos_token_id=ENDOFTEXT, eos_token_id=ENDOFTEXT,
    )
    model = transformers.Qwen3ForCausalLM(config)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.zero_()
        embedding, head = model.model.embed_tokens.weight, model.lm_head.weight
        for token, unit in ((10, 0), (11, 1), (IM_END, 2), (12, 3)):
            embedding[token, unit] = 1.0
        head[11, 0] = head[IM_END, 1] = head[12, 2] = head[12, 3] = 10.0
    path = tmp_path_factory.mktemp("base")
    model.save_pretrained(path)
    (path / "generation_config.json").write_text(json.dumps({"eos_token_id": IM_END}))
    return path


class Prompts:
    def batch(self, step, role):
        return prompt_frame([[3, 10], [10]])


def rollouts(base, tmp_path, run_stop_ids=None, **hyper):
    rewards = TargetTokenReward(5)
    config = RunConfig(
        stage="grpo", model={"path": str(base)}, total_steps=1, stop_ids=run_stop_ids,
        hyper=Hyper.from_dict(dict(groupSize=2, maxTokens=6, temperature=0.0, **hyper)),
        checkpoint_dir=str(tmp_path / "ck"),
    )
    assert run(config, Prompts(), rewards, RecordingSink()) == 0
    generation = json.loads((tmp_path / "ck" / "step-1" / "generation_config.json").read_text())
    return [r.completion_ids for r in rewards.calls[0]], generation["eos_token_id"]


def test_rollouts_of_a_base_checkpoint_stop_at_the_generation_configs_eos(base_like, tmp_path):
    completions, written = rollouts(base_like, tmp_path)
    assert completions == [[11, IM_END]] * 4
    assert written == [IM_END, ENDOFTEXT]  # both configs' eos ids, for the next stage and for serving


def test_the_runs_stop_ids_come_before_the_checkpoints_and_hyper_before_both(base_like, tmp_path):
    completions, written = rollouts(base_like, tmp_path / "run", run_stop_ids=[11])
    assert completions == [[11]] * 4 and written == [11]
    completions, written = rollouts(base_like, tmp_path / "hyper", run_stop_ids=[11], stopIds=[ENDOFTEXT])
    assert completions == [[11, IM_END, 12, 12, 12, 12]] * 4  # the sampling setting wins over the run's
    assert written == [11]  # while the checkpoint keeps the chat template's stop ids
    completions, _ = rollouts(base_like, tmp_path / "none", stopIds=[])
    assert completions == [[11, IM_END, 12, 12, 12, 12]] * 4


def test_run_config_reads_stop_ids():
    config = RunConfig.from_dict({"stage": "sft", "model": {"tiny": "tiny"}, "totalSteps": 1,
                                  "stopIds": [IM_END, ENDOFTEXT]})
    assert config.stop_ids == [IM_END, ENDOFTEXT]
    assert RunConfig.from_dict({"stage": "sft", "model": {"tiny": "tiny"}, "totalSteps": 1}).stop_ids is None
