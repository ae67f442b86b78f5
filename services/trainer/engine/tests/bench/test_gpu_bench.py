"""The GPU benchmark's parts that need no GPU (bench/gpu.py): its eager baselines compute the kernels' losses, the
SFT steps it compares train the same loss, the comparison's ratios and verdicts, and Liger-Kernel's absence reported."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import gpu  # noqa: E402
import kernels as kb  # noqa: E402

TINY = dict(gpu.CPU.sft_models[next(iter(gpu.CPU.sft_models))], vocab_size=512)


@pytest.mark.parametrize("loss", list(gpu.LOSSES))
def test_eager_baselines_match_the_chunked_kernels(loss):
    eager, chunked, _ = gpu.LOSSES[loss]
    weights = kb.make_weights(24, 300, torch.device("cpu"), torch.float64, seed=1)
    x = gpu.add_topk_teacher(kb.make_inputs(37, weights, torch.device("cpu"), torch.float64, seed=2), k=8, seed=3)
    want_loss, (want_h, want_w) = kb.value_and_grads(eager, x)
    got_loss, (got_h, got_w) = kb.value_and_grads(lambda x: chunked(x, 16), x)
    torch.testing.assert_close(got_loss, want_loss)
    torch.testing.assert_close(got_h, want_h)
    torch.testing.assert_close(got_w, want_w)


def test_topk_teacher_ids_are_distinct_with_a_tail():
    weights = kb.make_weights(8, 1000, torch.device("cpu"), torch.float32, seed=0)
    x = gpu.add_topk_teacher(kb.make_inputs(50, weights, torch.device("cpu"), torch.float32, seed=0), k=64, seed=0)
    assert all(len(set(row.tolist())) == 64 for row in x["topk_ids"])
    torch.testing.assert_close(x["topk_logprobs"].exp().sum(-1), torch.full((50,), 0.9))


def test_chunked_ce_step_trains_the_same_loss_as_transformers():
    model, _, ids = gpu.build(TINY, 32, 2, torch.device("cpu"))
    want = model(input_ids=ids, labels=ids).loss
    labels = torch.cat((ids[:, 1:], torch.full_like(ids[:, :1], -100)), 1).reshape(-1)
    hidden = model.model(input_ids=ids).last_hidden_state
    got = gpu.linear_cross_entropy(hidden.reshape(-1, hidden.shape[-1]), model.lm_head.weight, labels)
    torch.testing.assert_close(got, want)
    # Both factories build the same model from the same seed and step it.
    steps = [factory(TINY, 32, 2, torch.device("cpu")) for factory in (gpu.transformers_step, gpu.chunked_ce_step)]
    assert [step() for step in steps] == [64, 64]


def test_engine_step_trains_the_loss_transformers_computes():
    model, _, ids = gpu.build(TINY, 32, 2, torch.device("cpu"))
    want = float(model(input_ids=ids, labels=ids).loss)
    opened = not torch.distributed.is_initialized()  # the step opens a one-rank group when there is none
    try:
        step = gpu.engine_step(TINY, 32, 2, torch.device("cpu"))
        assert step() == 64
        assert step.metrics["loss"] == pytest.approx(want, rel=1e-5)
        step()
        assert step.metrics["loss"] < want
    finally:
        step = None
        if opened and torch.distributed.is_initialized():
            import gc

            gc.collect()
            torch.distributed.destroy_process_group()


def test_sft_section_ratios_and_verdicts(tmp_path):
    shapes = gpu.Shapes(hidden=8, vocab=512, tokens=[8], dtype=torch.float32, chunk_size=8, topk=4, warmup=1,
                        repeats=2, check_tokens=8, compile_all=False, sft_models={"tiny": TINY}, sft_seq_len=16)
    steps = {"transformers": gpu.transformers_step, "engine": gpu.load_factory("gpu:chunked_ce_step")}

    def broken(config, seq_len, micro_batch, device):
        raise RuntimeError("not built")

    steps["broken"] = broken
    section = gpu.sft_section(steps, torch.device("cpu"), shapes, gpu.Budget(60))
    base, engine, failed = section["rows"]
    assert base["status"] == engine["status"] == "ok" and base["tokens_per_s"] > 0
    assert engine["tokens_per_s_ratio"] == pytest.approx(engine["tokens_per_s"] / base["tokens_per_s"])
    assert engine["verdict"].startswith("not judged")  # no memory figures on the CPU
    assert failed == {**failed, "status": "error", "reason": "RuntimeError: not built"}
    assert section["note"] is None
    text = gpu.markdown({"environment": {"date": "d", "command": "c", "device": "CPU", "machine": "m", "torch": "t",
                                         "transformers": "t", "liger": "l"}, "sft": section})
    assert "| tiny | 16 | engine |" in text and "not built" in text
    spent = gpu.sft_section({"transformers": gpu.transformers_step}, torch.device("cpu"), shapes, gpu.Budget(0))
    assert spent["rows"][0]["status"] == "skipped" and "no engine step given" in spent["note"]


def test_liger_without_a_wheel_says_where_to_put_it(tmp_path):
    liger, note = gpu.load_liger(tmp_path)
    assert liger is None
    assert f"no liger_kernel-{gpu.LIGER_VERSION} wheel in {tmp_path}" in note and "pip download" in note


def test_engine_step_must_name_a_function():
    with pytest.raises(SystemExit, match="module:function"):
        gpu.load_factory("gpu")
