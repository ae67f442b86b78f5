"""The engine's models checked against transformers itself, on CPU in fp32, for each tiny config (Qwen3 tied and
untied, Qwen3-MoE, Llama): the engine's hidden states through the chunked kernels give transformers' own logits
and loss, packed several documents a row or each document alone; folders the engine writes load in transformers,
and folders transformers writes (sharded) load in the engine, to the same logits. Also: seeded initialisation
and the attention setting (gradient checkpointing is applied with the sharding: tests/train/test_fsdp.py)."""

import pytest
import torch
import transformers
from transformers import AutoModelForCausalLM

from sovereign_engine.checkpoint import load_checkpoint, save_checkpoint
from sovereign_engine.kernels import linear_cross_entropy, linear_selected_logprobs
from sovereign_engine.models import TINY_CONFIGS, CausalLM, attention_implementation, init_model, tiny_config
from sovereign_engine.train import load_model

ATOL = 1e-5
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
DOC_LENGTHS = (7, 12, 5)


def engine_model(name: str, seed: int = 0, attention: str = "sdpa") -> CausalLM:
    """A tiny model whose norm weights are random too, so a path that skipped a norm would disagree."""
    model = init_model(tiny_config(name), seed, attention=attention).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for param_name, p in model.hf.named_parameters():
            if "norm" in param_name:
                p.add_(torch.randn(p.shape, generator=g) * 0.2)
    return model


def documents(vocab: int, seed: int = 3):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, vocab, (n,), generator=g) for n in DOC_LENGTHS]


def shifted(doc: torch.Tensor) -> torch.Tensor:
    """The engine's labels: position t predicts token t + 1; the last position predicts nothing."""
    return torch.cat((doc[1:], torch.tensor([-100])))


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_engine_path_gives_transformers_logits_and_loss(name, attention):
    model = engine_model(name, attention=attention)
    hf = model.hf
    docs = documents(hf.config.vocab_size)
    row = torch.cat(docs)[None]
    positions = torch.cat([torch.arange(len(d)) for d in docs])[None]
    labels = torch.cat([shifted(d) for d in docs])

    with torch.no_grad():
        hidden = model(row, positions)[0]  # packed: three documents in one row
        # transformers' own packed form: position ids restarting, labels -100 where a document starts
        hf_labels = torch.cat([torch.cat((torch.tensor([-100]), d[1:])) for d in docs])[None]
        theirs = hf(input_ids=row, position_ids=positions, labels=hf_labels, use_cache=False)
        loss = linear_cross_entropy(hidden, model.lm_head_weight(), labels)
        logprobs = linear_selected_logprobs(hidden, model.lm_head_weight(), labels)
        torch.testing.assert_close(model.logits(hidden), theirs.logits[0], atol=ATOL, rtol=0)
        torch.testing.assert_close(loss, theirs.loss, atol=ATOL, rtol=0)
        keep = labels != -100
        expected = theirs.logits[0].log_softmax(-1)[keep].gather(-1, labels[keep][:, None])[:, 0]
        torch.testing.assert_close(logprobs[keep], expected, atol=ATOL, rtol=0)

        start = 0
        for doc in docs:  # each document alone, in the engine and in transformers
            alone = model(doc[None])[0]
            reference = hf(input_ids=doc[None], labels=doc[None], use_cache=False)
            torch.testing.assert_close(model.logits(alone), reference.logits[0], atol=ATOL, rtol=0)
            torch.testing.assert_close(
                linear_cross_entropy(alone, model.lm_head_weight(), shifted(doc)), reference.loss, atol=ATOL, rtol=0
            )
            # The packed row's slice is the document alone: nothing crosses a document boundary.
            torch.testing.assert_close(hidden[start : start + len(doc)], alone, atol=ATOL, rtol=0)
            start += len(doc)


def test_moe_router_loss_stays_out_of_the_engine_loss():
    model = engine_model("tiny-moe")
    hf = model.hf
    doc = documents(hf.config.vocab_size)[1]
    with torch.no_grad():
        engine_loss = linear_cross_entropy(model(doc[None])[0], model.lm_head_weight(), shifted(doc))
        plain = hf(input_ids=doc[None], labels=doc[None], use_cache=False)
        with_router = hf(input_ids=doc[None], labels=doc[None], use_cache=False, output_router_logits=True)
        hf.config.output_router_logits = True  # a checkpoint that turns it on does not change the engine's loss
        engine_again = linear_cross_entropy(model(doc[None])[0], model.lm_head_weight(), shifted(doc))
    assert with_router.aux_loss > 0 and with_router.loss > plain.loss
    torch.testing.assert_close(engine_loss, plain.loss, atol=ATOL, rtol=0)
    torch.testing.assert_close(engine_again, engine_loss, atol=0, rtol=0)
    torch.testing.assert_close(
        with_router.loss - hf.config.router_aux_loss_coef * with_router.aux_loss, engine_loss, atol=ATOL, rtol=0
    )


@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_engine_folders_load_in_transformers_and_sharded_transformers_folders_load_in_the_engine(tmp_path, name):
    model = engine_model(name)
    ids = torch.cat(documents(model.config.vocab_size))[None]
    with torch.no_grad():
        expected = model.logits(model(ids))

    save_checkpoint(model, tmp_path / "engine")
    hf = AutoModelForCausalLM.from_pretrained(tmp_path / "engine", attn_implementation="sdpa").eval()
    assert type(hf) is type(model.hf) and hf.dtype == torch.float32
    with torch.no_grad():
        torch.testing.assert_close(hf(input_ids=ids).logits, expected, atol=ATOL, rtol=0)

    model.hf.save_pretrained(tmp_path / "sharded", max_shard_size=200_000)
    assert len(list((tmp_path / "sharded").glob("model-*-of-*.safetensors"))) > 2
    assert not (tmp_path / "sharded" / "model.safetensors").exists()
    loaded = load_checkpoint(tmp_path / "sharded", attention="sdpa")
    assert type(loaded.hf) is type(model.hf)
    for (key, a), b in zip(model.hf.state_dict().items(), loaded.hf.state_dict().values()):
        assert torch.equal(a, b), key
    with torch.no_grad():
        torch.testing.assert_close(loaded.logits(loaded(ids)), expected, atol=0, rtol=0)


@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_seeded_init_is_deterministic_and_leaves_the_global_random_state_alone(name):
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = load_model({"tiny": name, "seed": 7}, torch.device("cpu"))
    assert torch.equal(torch.rand(3), expected_next)
    b, c = load_model({"tiny": name, "seed": 7}, "cpu"), load_model({"tiny": name, "seed": 8}, "cpu")
    assert a.config.vocab_size == 151936 and a.lm_head_weight().dtype == torch.float32
    tied = a.lm_head_weight() is a.hf.get_input_embeddings().weight
    assert tied == (name == "tiny")
    for (key, pa), pb, pc in zip(a.hf.state_dict().items(), b.hf.state_dict().values(), c.hf.state_dict().values()):
        assert torch.equal(pa, pb), key
        if "norm" not in key:  # norms start at 1 whatever the seed
            assert not torch.equal(pa, pc), key
    std = a.hf.get_input_embeddings().weight.std().item()
    assert abs(std - a.config.initializer_range) < 0.001
    with pytest.raises(ValueError, match="unknown tiny model 'tiny-3'"):
        load_model({"tiny": "tiny-3"}, "cpu")


@CUDA
@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_seeded_init_is_the_same_on_cuda(name):
    cpu, cuda = load_model({"tiny": name, "seed": 5}, "cpu"), load_model({"tiny": name, "seed": 5}, "cuda")
    for (key, a), b in zip(cpu.hf.state_dict().items(), cuda.hf.state_dict().values()):
        assert b.is_cuda and torch.equal(a, b.cpu()), key


def test_tiny_configs():
    tiny, tiny2, moe, llama = (tiny_config(n) for n in ("tiny", "tiny-2", "tiny-moe", "tiny-llama"))
    assert {c.vocab_size for c in (tiny, tiny2, moe, llama)} == {151936}
    assert (tiny.model_type, tiny2.model_type, moe.model_type, llama.model_type) == (
        "qwen3", "qwen3", "qwen3_moe", "llama"
    )
    assert tiny.tie_word_embeddings and not tiny2.tie_word_embeddings
    assert tiny2.num_key_value_heads == 1 and tiny2.head_dim * tiny2.num_attention_heads != tiny2.hidden_size
    assert (moe.num_experts, moe.num_experts_per_tok, moe.output_router_logits) == (4, 2, False)
    assert tiny.eos_token_id == 151645 and tiny.bos_token_id == 151643


def test_attention_setting():
    assert attention_implementation("auto", "cpu") == "sdpa"
    assert attention_implementation("eager", "cpu") == "eager"
    try:
        import flash_attn  # noqa: F401

        flash = True
    except ImportError:
        flash = False
    assert attention_implementation("auto", "cuda") == ("flash_attention_2" if flash else "sdpa")
    with pytest.raises(ValueError, match="attention must be one of"):
        attention_implementation("flash", "cpu")
    model = load_model({"tiny": "tiny", "seed": 0}, "cpu", attention="eager")
    assert model.config._attn_implementation == "eager"


def test_a_head_that_is_not_a_plain_matmul_is_refused():
    config = transformers.AutoConfig.for_model(
        "gemma2", vocab_size=100, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, head_dim=8, final_logit_softcapping=30.0,
    )
    with pytest.raises(ValueError, match="final_logit_softcapping"):
        init_model(config, 0)
