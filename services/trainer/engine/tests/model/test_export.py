"""`python -m sovereign_engine.export`: a run's step folder into a servable folder that transformers loads to the
same logits, with its files listed on the last stdout line (as a child process); refusals (in this process)."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from sovereign_engine.export import main
from sovereign_engine.models import init_model, tiny_config
from sovereign_engine.optim import WarmupCosine, build_optimizer, build_scheduler, save_training_checkpoint
from test_checkpoint import chat_tokenizer

ENGINE_DIR = Path(__file__).resolve().parents[2]


def export(*args):
    return subprocess.run(
        [sys.executable, "-m", "sovereign_engine.export", *map(str, args)], cwd=ENGINE_DIR, capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def step_folder(tmp_path_factory):
    """A run's last step checkpoint of the tiny Qwen3-MoE: fp32 weights, generation config, sharded training state
    and trainer state."""
    model = init_model(tiny_config("tiny-moe"), 2)
    optimizer = build_optimizer(model, lr=0.1)
    scheduler = build_scheduler(optimizer, WarmupCosine(0, 2))
    path = tmp_path_factory.mktemp("run") / "step-1"
    save_training_checkpoint(str(path), model, optimizer, scheduler, 1, {}, stop_ids=[151645])
    return path, model


def test_export_writes_a_servable_bf16_folder(step_folder, tmp_path):
    step, model = step_folder
    chat_tokenizer(tmp_path / "tokenizer")
    out = tmp_path / "served"
    result = export("--checkpoint", step, "--out", out, "--tokenizer", tmp_path / "tokenizer",
                    "--stop-ids", "151645,151643", "--max-shard-bytes", 4_000_000)
    assert result.returncode == 0, result.stderr
    files = json.loads(result.stdout.strip().splitlines()[-1])["files"]
    names = [f["name"] for f in files]
    assert sorted(p.name for p in out.iterdir()) == names  # everything written is listed, nothing else is there
    for f in files:
        data = (out / f["name"]).read_bytes()
        assert f["bytes"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
    assert not any(name.startswith(("trainer_state", "state")) for name in names)  # no training state
    assert {"tokenizer.json", "tokenizer_config.json"} <= set(names)
    shards = [n for n in names if n.startswith("model-")]
    assert len(shards) > 1 and "model.safetensors.index.json" in names
    assert all(t.dtype == torch.bfloat16 for name in shards for t in load_file(out / name).values())
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    assert json.loads((out / "generation_config.json").read_text())["eos_token_id"] == [151645, 151643]

    served = AutoModelForCausalLM.from_pretrained(out, attn_implementation="sdpa").eval()
    assert served.dtype == torch.bfloat16
    bf16 = init_model(tiny_config("tiny-moe"), 2, dtype=torch.bfloat16).eval()
    ids = torch.tensor([[151644, 872, 198, 9707, 151645, 11, 12]])
    with torch.no_grad():
        assert torch.equal(served(input_ids=ids).logits, bf16.logits(bf16(ids)))
    assert AutoTokenizer.from_pretrained(out).chat_template is not None


def test_export_keeps_the_checkpoints_stop_ids_and_float32_when_asked(step_folder, tmp_path):
    step, model = step_folder
    result = export("--checkpoint", step, "--out", tmp_path / "fp32", "--dtype", "float32")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "fp32"
    assert json.loads((out / "generation_config.json").read_text())["eos_token_id"] == [151645]
    stored = load_file(out / "model.safetensors")
    for name, tensor in model.hf.state_dict().items():
        if name in stored:
            assert torch.equal(stored[name], tensor), name
    assert "model.layers.0.mlp.experts.0.gate_proj.weight" in stored  # per-expert names, as servers read them


def test_export_reads_a_step_folder_that_holds_only_the_sharded_state(tmp_path):
    """An intermediate step checkpoint has no HF weights: the export reads the model's part of its sharded state."""
    model = init_model(tiny_config("tiny-moe"), 4)
    optimizer = build_optimizer(model, lr=0.1)
    step = tmp_path / "step-2"
    files = save_training_checkpoint(str(step), model, optimizer, build_scheduler(optimizer, WarmupCosine(0, 2)), 2,
                                     {}, consolidated=False, stop_ids=[151645])
    assert not any(f["name"].endswith(".safetensors") for f in files)
    result = export("--checkpoint", step, "--out", tmp_path / "out", "--dtype", "float32")
    assert result.returncode == 0, result.stderr
    stored = load_file(tmp_path / "out" / "model.safetensors")
    assert "model.layers.0.mlp.experts.0.gate_proj.weight" in stored
    served = AutoModelForCausalLM.from_pretrained(tmp_path / "out", attn_implementation="sdpa").eval()
    assert json.loads((tmp_path / "out" / "generation_config.json").read_text())["eos_token_id"] == [151645]
    ids = torch.tensor([[151644, 872, 198, 9707, 151645, 11, 12]])
    with torch.no_grad():
        assert torch.equal(served(input_ids=ids).logits, model.eval().logits(model(ids)))


def test_export_refusals(step_folder, tmp_path, capsys):
    step, _ = step_folder
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    assert main(["--checkpoint", str(step), "--out", str(tmp_path / "full")]) == 1
    assert "exists and is not an empty folder" in capsys.readouterr().err
    assert os.listdir(tmp_path / "full") == ["keep.txt"]
    assert main(["--checkpoint", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 1
    assert "nowhere: no such checkpoint folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["--checkpoint", str(step), "--out", str(tmp_path / "out2"), "--stop-ids", "151645,x"])
    assert exited.value.code == 2 and "comma-separated token ids" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()
