"""Sampling: batched left-padded decoding against single prompts and a cache-free loop; top-p, stops, log-probs;
a prompt's completion set by its own seed whatever its batch, micro-batch, group or compiled step; micro-batch
planning; one prefill per distinct prompt; finished rows leaving the batch; the inverse-CDF draw; the KV cache in
the compute dtype."""

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoConfig

from sovereign_engine.algorithms import autocast
from sovereign_engine.models import init_model
from sovereign_engine import sampler
from sovereign_engine.sampler import (
    Completion, _choose, cache_bytes_per_token, plan_micro_batches, sample, top_p_filter,
)

PROMPTS = [[11, 12, 13], [21, 22, 23, 24, 25, 26, 27], [31], [41, 42, 43, 44, 45]]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def small_config(model_type="qwen3"):
    # A wide init so that the text depends on the context.
    return AutoConfig.for_model(
        model_type, vocab_size=1000, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, initializer_range=0.3, eos_token_id=None, bos_token_id=None,
    )


@pytest.fixture(scope="module", params=["qwen3", "llama"])
def model(request):
    # float64 so that batching cannot flip a near-tie between two tokens.
    return init_model(small_config(request.param), 0, dtype=torch.float64).eval()


def next_logits(model, ids):
    """Last-position logits [V] of one sequence by a full forward, no cache."""
    with torch.no_grad():
        return model.logits(model(torch.tensor([ids])))[0, -1]


def reference(model, prompt, seed, *, max_new_tokens, temperature, top_p, stop_ids=()):
    """What sample() must draw for one prompt and seed: a cache-free loop, the full sequence forwarded each step,
    token t drawn with the seed's t-th uniform."""
    uniforms = torch.rand(max_new_tokens, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    ids, tokens, logprobs = list(prompt), [], []
    for t in range(max_new_tokens):
        token, logprob = _choose(next_logits(model, ids)[None], temperature, top_p, uniforms[t : t + 1])
        tokens.append(int(token))
        logprobs.append(float(logprob))
        if tokens[-1] in stop_ids:
            return Completion(tokens, logprobs, "stop")
        ids.append(tokens[-1])
    return Completion(tokens, logprobs, "length")


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.1, 0.4, 0.2, 0.3], [0.3, 0.2, 0.1, 0.4]], dtype=torch.float64)
    logits = probs.log()
    cases = [(1e-9, {0.4}), (0.35, {0.4}), (0.65, {0.4, 0.3}), (0.75, {0.4, 0.3, 0.2}), (0.95, {0.4, 0.3, 0.2, 0.1})]
    for top_p, kept in cases:
        out = top_p_filter(logits, top_p)
        for row in range(2):
            finite = torch.isfinite(out[row])
            assert {round(p, 6) for p in probs[row][finite].tolist()} == kept, (top_p, row)
            assert torch.equal(out[row][finite], logits[row][finite])
    assert torch.equal(top_p_filter(logits, 1.0), logits)


def test_batched_greedy_matches_each_prompt_alone_and_a_cache_free_loop(model):
    batched = sample(model, PROMPTS, max_new_tokens=8, temperature=0.0)
    assert len({t for c in batched for t in c.tokens}) > 8, "degenerate text would make this test weak"
    for prompt, got in zip(PROMPTS, batched):
        alone = sample(model, [prompt], max_new_tokens=8, temperature=0.0)[0]
        assert got.tokens == alone.tokens and got.finish_reason == "length" and len(got.tokens) == 8
        torch.testing.assert_close(torch.tensor(got.logprobs), torch.tensor(alone.logprobs), atol=1e-9, rtol=0)
        ids = list(prompt)
        for token, logprob in zip(got.tokens, got.logprobs):
            logits = next_logits(model, ids)
            assert token == int(logits.argmax())
            assert abs(logprob - logits.log_softmax(-1)[token].item()) < 1e-9
            ids.append(token)


@pytest.mark.parametrize("top_p", [1.0, 0.9])
def test_sampled_log_probs_are_those_of_the_sampling_distribution(model, top_p):
    temperature = 0.8
    completions = sample(model, PROMPTS[:2], max_new_tokens=6, temperature=temperature, top_p=top_p, seed=1)
    for prompt, c in zip(PROMPTS, completions):
        ids = list(prompt)
        for token, logprob in zip(c.tokens, c.logprobs):
            expected = top_p_filter(next_logits(model, ids) / temperature, top_p).log_softmax(-1)
            assert torch.isfinite(expected[token]), "sampled outside the nucleus"
            assert abs(logprob - expected[token].item()) < 1e-9
            ids.append(token)
    again = sample(model, PROMPTS[:2], max_new_tokens=6, temperature=temperature, top_p=top_p, seed=1)
    other = sample(model, PROMPTS[:2], max_new_tokens=6, temperature=temperature, top_p=top_p, seed=2)
    assert again == completions and other != completions


def test_a_completion_depends_on_its_prompt_and_seed_not_on_its_batch(model):
    """What makes rollouts the same on any number of ranks: each row draws from its own seed."""
    seeds = [11, 12, 13, 14]

    def drawn(prompts, seeds):
        return sample(model, prompts, max_new_tokens=6, temperature=1.2, top_p=0.95, seeds=seeds)

    def same(a, b):  # the same tokens; log-probs up to the rounding of a batch of another size
        assert [(c.tokens, c.finish_reason) for c in a] == [(c.tokens, c.finish_reason) for c in b]
        for x, y in zip(a, b):
            assert x.logprobs == pytest.approx(y.logprobs, abs=1e-12)

    batched = drawn(PROMPTS, seeds)
    assert len({tuple(c.tokens) for c in batched}) == len(PROMPTS)
    for i in range(len(PROMPTS)):
        same(drawn([PROMPTS[i]], [seeds[i]]), [batched[i]])
    same(drawn(PROMPTS[::-1], seeds[::-1]), batched[::-1])
    # The same prompt twice in a batch, with two seeds, draws two completions.
    twice = sample(model, [PROMPTS[0]] * 2, max_new_tokens=6, temperature=1.2, top_p=0.95, seeds=[1, 2])
    assert twice[0] != twice[1]
    with pytest.raises(ValueError, match="3 seeds for 4 prompts"):
        sample(model, PROMPTS, max_new_tokens=1, seeds=[1, 2, 3])


def test_inverse_cdf_draws_each_token_in_proportion_and_never_one_without_mass():
    probs = torch.tensor([0.1, 0.0, 0.25, 0.4, 0.0, 0.25], dtype=torch.float64)
    logits = probs.log().expand(4000, -1)
    u = (torch.arange(4000, dtype=torch.float64) + 0.5) / 4000  # evenly spread draws: exact proportions
    tokens, logprobs = _choose(logits, 1.0, 1.0, u)
    assert torch.bincount(tokens, minlength=6).tolist() == [400, 0, 1000, 1600, 0, 1000]
    torch.testing.assert_close(logprobs, probs.log()[tokens])
    # u just below 1 (and u x total rounding up to the total) still lands on the last token with mass.
    masked = torch.tensor([[0.0, 1.0, 2.0, float("-inf"), float("-inf")]], dtype=torch.float32)
    top = torch.tensor([1.0 - 2**-53], dtype=torch.float64)
    assert _choose(masked, 1.0, 1.0, top)[0].tolist() == [2]
    assert _choose(masked, 1.0, 1.0, torch.zeros(1, dtype=torch.float64))[0].tolist() == [0]


def test_tiny_top_p_is_greedy_with_probability_one(model):
    greedy = sample(model, PROMPTS, max_new_tokens=5, temperature=0.0)
    nucleus = sample(model, PROMPTS, max_new_tokens=5, temperature=1.0, top_p=1e-9, seed=0)
    assert [c.tokens for c in nucleus] == [c.tokens for c in greedy]
    assert all(lp == 0.0 for c in nucleus for lp in c.logprobs)


def test_stop_ids_end_each_row_at_its_first_stop(model):
    free = sample(model, PROMPTS, max_new_tokens=8, temperature=0.0)
    stop = free[0].tokens[2]
    stopped = sample(model, PROMPTS, max_new_tokens=8, temperature=0.0, stop_ids={stop, 999_999})
    assert stopped[0].finish_reason == "stop"
    for f, s in zip(free, stopped):
        if stop in f.tokens:
            end = f.tokens.index(stop) + 1
            assert (s.tokens, s.finish_reason) == (f.tokens[:end], "stop")
            assert s.logprobs == pytest.approx(f.logprobs[:end], abs=1e-9)
        else:
            assert (s.tokens, s.finish_reason) == (f.tokens, "length")

    first = {c.tokens[0] for c in free}
    all_stop = sample(model, PROMPTS, max_new_tokens=8, temperature=0.0, stop_ids=first)
    assert [(c.tokens, c.finish_reason) for c in all_stop] == [([f.tokens[0]], "stop") for f in free]


def test_edge_cases(model):
    assert sample(model, [], max_new_tokens=4) == []
    assert [c.finish_reason for c in sample(model, PROMPTS[:2], max_new_tokens=0)] == ["length", "length"]
    with pytest.raises(ValueError, match="at least one token"):
        sample(model, [[1], []], max_new_tokens=4)


def test_vocab_limit_never_draws_padding_ids_and_renormalizes_over_the_rest(model):
    # With the limit at 500, half of this model's 1000 ids are out of reach.
    limit = 500
    free = sample(model, PROMPTS * 8, max_new_tokens=6, temperature=1.5, seed=3)
    assert any(t >= limit for c in free for t in c.tokens)  # the unlimited sampler does reach them
    limited = sample(model, PROMPTS * 8, max_new_tokens=6, temperature=1.5, seed=3, vocab_limit=limit)
    assert all(t < limit for c in limited for t in c.tokens)
    # The reported log-probs are those of the distribution over the allowed ids.
    first = limited[0]
    logits = next_logits(model, PROMPTS[0])[:limit] / 1.5
    assert first.logprobs[0] == pytest.approx(float(logits.log_softmax(-1)[first.tokens[0]]), abs=1e-9)
    # Greedy picks the best allowed id.
    greedy = sample(model, PROMPTS, max_new_tokens=1, temperature=0.0, vocab_limit=limit)
    for prompt, c in zip(PROMPTS, greedy):
        assert c.tokens[0] == int(next_logits(model, prompt)[:limit].argmax())
    with pytest.raises(ValueError, match="vocab_limit"):
        sample(model, PROMPTS, max_new_tokens=1, vocab_limit=0)


def attention_reads(monkeypatch):
    """The dtypes of the keys and values every attention call reads (the cache's, when decoding)."""
    seen, real = [], F.scaled_dot_product_attention

    def spy(q, k, v, *args, **kwargs):
        seen.append((k.dtype, v.dtype))
        return real(q, k, v, *args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    return seen


def test_rollout_cache_is_kept_in_the_compute_dtype_not_the_master_weights(monkeypatch):
    """fp32 master weights under bf16 autocast (the CPU's autocast standing in for CUDA's): the cache holds bf16."""
    model = init_model(small_config(), 0, attention="sdpa").eval()
    seen = attention_reads(monkeypatch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        completions = sample(model, PROMPTS, max_new_tokens=4, temperature=0.0)
    assert all(len(c.tokens) == 4 for c in completions)
    assert len(seen) == 4 * model.config.num_hidden_layers
    assert set(seen) == {(torch.bfloat16, torch.bfloat16)}
    seen.clear()
    sample(model, PROMPTS, max_new_tokens=2, temperature=0.0)  # no autocast: fp32 throughout
    assert set(seen) == {(torch.float32, torch.float32)}


@CUDA
def test_rollout_cache_is_bf16_under_cuda_autocast(monkeypatch):
    model = init_model(small_config(), 0, device="cuda", attention="sdpa").eval()
    seen = attention_reads(monkeypatch)
    with autocast(torch.device("cuda")):
        sample(model, PROMPTS, max_new_tokens=4, temperature=0.0)
    assert set(seen) == {(torch.bfloat16, torch.bfloat16)}


# GRPO's layout: each prompt repeated for its group's samples, consecutively, every sample with a seed of its own.
GROUPS = [p for p in PROMPTS for _ in range(3)]
GROUP_SEEDS = list(range(100, 100 + len(GROUPS)))
DRAW = dict(max_new_tokens=8, temperature=1.2, top_p=0.95)


@pytest.fixture(scope="module")
def group_stops(model):
    """Stop ids that end some rows early and at different steps (one at its first token, while its group goes on),
    and leave others to run to the length limit."""
    free = sample(model, GROUPS, seeds=GROUP_SEEDS, **DRAW)
    firsts = [c.tokens[0] for c in free]
    alone = next(t for t in firsts[8:] if firsts.count(t) == 1)  # a first token no other row draws
    return {alone, free[0].tokens[1], free[7].tokens[4]}


def assert_same(got, expected):
    assert [(c.tokens, c.finish_reason) for c in got] == [(c.tokens, c.finish_reason) for c in expected]
    for g, e in zip(got, expected):
        assert g.logprobs == pytest.approx(e.logprobs, abs=1e-9)


@pytest.mark.parametrize("max_batch_tokens", [None, 1, 40, 75])
def test_every_micro_batching_draws_what_each_row_draws_alone_without_a_cache(model, group_stops, max_batch_tokens):
    """Mixed lengths, groups of identical prompts, stops and micro-batches: each completion is the cache-free
    loop's for its prompt and seed. Budget 1 decodes each row alone; 40 and 75 cut groups and lengths apart."""
    got = sample(model, GROUPS, seeds=GROUP_SEEDS, stop_ids=group_stops, max_batch_tokens=max_batch_tokens, **DRAW)
    expected = [
        reference(model, p, s, stop_ids=group_stops, **DRAW) for p, s in zip(GROUPS, GROUP_SEEDS)
    ]
    assert_same(got, expected)
    reasons = [c.finish_reason for c in got]
    assert "stop" in reasons and "length" in reasons, "the stops should end some rows and not others"
    assert len({len(c.tokens) for c in got}) >= 3, "rows should finish at different steps"
    group = len(GROUPS) // len(PROMPTS)
    mates = lambda i: got[i - i % group :][:group]  # noqa: E731
    assert any(
        len(c.tokens) == 1 and c.finish_reason == "stop" and max(len(d.tokens) for d in mates(i)) > 1
        for i, c in enumerate(got)
    ), "a row should stop at its first token while its group goes on"
    assert len({tuple(c.tokens) for c in got}) == len(GROUPS), "a group's samples differ by their seeds"


def forward_rows(monkeypatch, model):
    """The rows of every forward the sampler makes: (batch rows, tokens per row)."""
    calls = []
    real = type(model).forward

    def spy(self, input_ids, *args, **kwargs):
        calls.append(tuple(input_ids.shape))
        return real(self, input_ids, *args, **kwargs)

    monkeypatch.setattr(type(model), "forward", spy)
    return calls


def test_a_group_is_prefilled_once_and_finished_rows_leave_the_batch(model, group_stops, monkeypatch):
    calls = forward_rows(monkeypatch, model)
    got = sample(model, GROUPS, seeds=GROUP_SEEDS, stop_ids=group_stops, **DRAW)
    # One prefill row per distinct prompt, as long as the longest.
    assert calls[0] == (len(PROMPTS), max(len(p) for p in PROMPTS))
    # The forward for token t runs the rows that draw a token t, and nothing else.
    decode = [rows for rows, tokens in calls[1:]]
    assert all(tokens == 1 for rows, tokens in calls[1:])
    assert decode == [sum(len(c.tokens) > t for c in got) for t in range(1, len(calls))]
    assert decode[-1] < len(GROUPS), "some rows should have left the batch"
    assert len(calls) == max(len(c.tokens) for c in got)


def test_micro_batches_prefill_their_own_distinct_prompts(model, monkeypatch):
    calls = forward_rows(monkeypatch, model)
    # Room for 3 rows of the longest prompt (7 + 8 positions each): its group fills a micro-batch, the next group
    # (5 tokens) takes 3 rows of 13, and so on.
    sample(model, GROUPS, seeds=GROUP_SEEDS, max_batch_tokens=45, **DRAW)
    prefills = [shape for shape in calls if shape[1] > 1]
    assert prefills == [(1, 7), (1, 5), (2, 3)]


def test_micro_batch_plan_keeps_the_budget_and_groups_together():
    prompts = [[1] * 3, [1] * 3, [2] * 7, [3] * 5, [2] * 7, [4], [3] * 5, [5] * 30]
    rows_of = lambda batches: sorted(i for b in batches for i in b)  # noqa: E731
    assert plan_micro_batches(prompts, 4) == [[7, 2, 4, 3, 6, 0, 1, 5]]
    for budget in (1, 20, 33, 40, 70, 1000):
        batches = plan_micro_batches(prompts, 4, budget)
        assert rows_of(batches) == list(range(len(prompts)))
        for b in batches:
            width = max(len(prompts[i]) for i in b) + 4
            assert len(b) == 1 or len(b) * width <= budget
            # Longest first, identical prompts side by side in input order.
            assert [len(prompts[i]) for i in b] == sorted((len(prompts[i]) for i in b), reverse=True)
        order = [i for b in batches for i in b]
        assert order == [7, 2, 4, 3, 6, 0, 1, 5]
    # The 34-position row alone exceeds 33 and is decoded alone; three 11-position rows fit 33, which splits the
    # group of [3] * 5 across two micro-batches (each prefills it).
    assert plan_micro_batches(prompts, 4, 33) == [[7], [2, 4, 3], [6, 0, 1], [5]]
    with pytest.raises(ValueError, match="max_batch_tokens"):
        sample(None, [[1]], max_new_tokens=1, max_batch_tokens=0)


def test_cache_bytes_per_token_counts_keys_and_values_of_every_layer():
    config = AutoConfig.for_model(
        "qwen3", hidden_size=4096, num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8,
        head_dim=128,
    )
    assert cache_bytes_per_token(config, torch.bfloat16) == 36 * 8 * 128 * 2 * 2  # Qwen3-8B: 144 KiB
    assert cache_bytes_per_token(small_config(), torch.float32) == 2 * 2 * 16 * 2 * 4


def test_compiled_static_cache_steps_draw_the_same_completions(model, group_stops, monkeypatch):
    """compile: decode steps traced by torch.compile (its eager backend here: the trace, the static cache and
    the fixed-shape loop, without a compiler) draw what the uncompiled sampler draws."""
    monkeypatch.setattr(sampler, "COMPILE_OPTIONS", {"default": {"backend": "eager", "dynamic": False}})
    monkeypatch.setattr(sampler, "_compiled", {})
    got = sample(model, GROUPS, seeds=GROUP_SEEDS, stop_ids=group_stops, max_batch_tokens=75, compile=True, **DRAW)
    expected = [reference(model, p, s, stop_ids=group_stops, **DRAW) for p, s in zip(GROUPS, GROUP_SEEDS)]
    assert_same(got, expected)
    assert "cpu" in sampler._compiled


@CUDA
def test_compiled_decode_on_cuda_matches_eager(group_stops):
    model = init_model(small_config(), 0, device="cuda", dtype=torch.float64).eval()
    eager = sample(model, GROUPS, seeds=GROUP_SEEDS, **DRAW)
    compiled = sample(model, GROUPS, seeds=GROUP_SEEDS, compile=True, **DRAW)
    assert_same(compiled, eager)
