"""A teacher served over HTTP (vLLM's prompt_logprobs) against the loopback test server in served_teacher.py,
which computes them from the engine's tiny Qwen3: the top-K equals a local teacher's `teacher_topk` of the same
model; retries, refusals, a wrong key and malformed answers are reported naming the endpoint, never the key; an
OPD step with the served teacher has the local teacher's loss and gradients at the same K; a run whose teacher
is an endpoint loads no teacher model."""

import json
import math
import time

import pytest
import torch

from served_teacher import ServedTeacher
from sovereign_engine import train
from sovereign_engine.algorithms import Hyper, RunConfig, head_inputs, teacher_topk
from sovereign_engine.models import init_model, tiny_config
from sovereign_engine.remote_teacher import API_KEY_ENV, RemoteTeacher, TeacherEndpointError, documents
from toys import RecordingSink, ToyData, make_stage

VOCAB = 151936


@pytest.fixture(scope="module")
def teacher_model():
    return init_model(tiny_config("tiny"), 2)


@pytest.fixture(scope="module")
def module_server(teacher_model):
    server = ServedTeacher(teacher_model, name="tiny-teacher")
    yield server
    server.close()


@pytest.fixture
def server(module_server):
    module_server.script, module_server.requests, module_server.api_key = [], [], None
    module_server.max_in_flight = module_server.refused = 0
    yield module_server
    # Requests a failed batch left in flight must not reach the next test's script.
    for teacher in _teachers:
        teacher.close(wait=True)
    _teachers.clear()


_teachers = []


def remote(server, **kwargs):
    kwargs = {"name": "served", "vocab_size": VOCAB, "backoff": 0.001, "retries": 3, **kwargs}
    _teachers.append(RemoteTeacher(server.base_url, "tiny-teacher", **kwargs))
    return _teachers[-1]


def packed_batch():
    """Two rows of three packed documents each (position ids restarting), with distilled positions as packed rows
    have them (every token but each document's last), plus one at a row's very end, whose next token is not in
    the row."""
    frame = ToyData(VOCAB, rows=2, doc_len=6, docs=3, seed=4).batch(1, "train")
    ids, labels, pos = (frame[n].long() for n in ("input_ids", "labels", "position_ids"))
    mask = labels != -100
    mask[1, -1] = True
    return ids, pos, mask


def local_topk(model, ids, pos, mask, k):
    with torch.no_grad():
        hidden, weight = head_inputs(model(ids, pos), model.lm_head_weight())
        return teacher_topk(hidden[mask.reshape(-1)], weight, k)


def prompts(server):
    return [json.loads(r["body"])["prompt"] for r in server.requests]


@pytest.mark.parametrize("k", [1, 7, 20])
def test_topk_equals_the_local_teachers(server, teacher_model, k):
    ids, pos, mask = packed_batch()
    expected_ids, expected_logprobs = local_topk(teacher_model, ids, pos, mask, k)
    got_ids, got_logprobs = remote(server, concurrency=2).topk(ids, pos, mask, k)
    assert got_ids.dtype == torch.long and got_logprobs.dtype == torch.float32
    assert got_ids.shape == got_logprobs.shape == (int(mask.sum()), k)
    assert torch.equal(got_ids, expected_ids)
    torch.testing.assert_close(got_logprobs, expected_logprobs, rtol=0, atol=2e-5)
    # One request per document, each alone and cut after the token that follows its last distilled position; the
    # row-end position has no next token in the row, so token 0 stands in for it.
    rows = ids.tolist()
    expected = [rows[r][s : s + 6] for r in (0, 1) for s in (0, 6, 12)]
    expected[-1] = expected[-1] + [0]
    assert sorted(prompts(server)) == sorted(expected)


def test_documents_cut_padding_and_follow_position_ids():
    ids = torch.tensor([[5, 6, 7, 8, 9, 0, 0], [1, 2, 3, 4, 5, 6, 7]])
    mask = torch.tensor([[0, 1, 1, 0, 0, 0, 0], [1, 0, 0, 1, 0, 1, 0]], dtype=torch.bool)
    assert documents(ids, None, mask) == [([5, 6, 7, 8], [1, 2]), ([1, 2, 3, 4, 5, 6, 7], [0, 3, 5])]
    pos = torch.tensor([[0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 0, 1, 0, 1]])
    assert documents(ids, pos, mask)[1:] == [([1, 2], [0]), ([4, 5], [0]), ([6, 7], [0])]
    assert documents(ids, pos, torch.zeros_like(mask)) == []


def test_requests_run_concurrently_up_to_the_bound(server):
    ids, pos, mask = packed_batch()  # six documents
    server.script = [("sleep", 0.2)] * 6
    remote(server, concurrency=3).topk(ids, pos, mask, 4)
    assert server.max_in_flight == 3
    body = server.requests[0]
    assert "Authorization" not in body["headers"]
    assert {k: v for k, v in json.loads(body["body"]).items() if k != "prompt"} == {
        "model": "tiny-teacher", "max_tokens": 1, "prompt_logprobs": 4, "temperature": 0}


def test_retries_429_5xx_and_dropped_connections(server, teacher_model):
    ids, pos, mask = packed_batch()
    one = mask.clone()
    one[:, :] = False
    one[0, 2] = True  # a single document: a single request to script
    server.script = [(503, {}, b'{"object": "error", "message": "overloaded"}'), (429, {"Retry-After": "0"}, b""),
                     ("drop",)]
    got = remote(server).topk(ids, pos, one, 5)
    assert len(server.requests) == 4
    expected = local_topk(teacher_model, ids, pos, one, 5)
    assert torch.equal(got[0], expected[0])

    server.requests, server.script = [], [(502, {}, b"bad gateway")] * 4
    with pytest.raises(TeacherEndpointError) as failure:
        remote(server).topk(ids, pos, one, 5)
    assert str(failure.value) == (f"teacher endpoint 'served' (POST {server.base_url}/completions) failed after 4 "
                                  "attempts: HTTP 502: bad gateway")
    assert len(server.requests) == 4


def test_a_timeout_is_retried_then_reported(server):
    ids, pos, mask = packed_batch()
    one = torch.zeros_like(mask)
    one[0, 1] = True
    server.script = [("sleep", 0.5)] * 2
    with pytest.raises(TeacherEndpointError, match=r"'served' .* failed after 2 attempts: .*timed out"):
        remote(server, timeout=0.1, retries=1).topk(ids, pos, one, 3)


def test_a_wrong_or_missing_key_is_refused_at_once_without_showing_the_key(server):
    ids, pos, mask = packed_batch()
    one = torch.zeros_like(mask)
    one[0, 1] = True
    server.api_key = "sk-right-key"
    secret = "sk-wrong-5ecret"
    teacher = remote(server, api_key=secret)
    assert secret not in repr(teacher)
    with pytest.raises(TeacherEndpointError) as failure:
        teacher.topk(ids, pos, one, 3)
    message = str(failure.value)
    assert failure.value.status == 401 and len(server.requests) == 1
    assert message.startswith("teacher endpoint 'served' (POST ")
    assert "refused (check the key the operator configured for it): HTTP 401: Incorrect API key provided: " \
           "[redacted]" in message
    assert secret not in message
    with pytest.raises(TeacherEndpointError, match=r"HTTP 401: Incorrect API key provided: \(none\)"):
        remote(server).topk(ids, pos, one, 3)
    got = remote(server, api_key="sk-right-key").topk(ids, pos, one, 3)
    assert got[0].shape == (1, 3)
    assert server.requests[-1]["headers"]["Authorization"] == "Bearer sk-right-key"


def test_a_k_above_the_servers_limit_reports_the_servers_message(server):
    ids, pos, mask = packed_batch()
    with pytest.raises(TeacherEndpointError, match=r"HTTP 400: Requested prompt logprobs of 21, which is greater "
                                                   r"than max allowed: 20") as failure:
        remote(server).topk(ids, pos, mask, 21)
    assert failure.value.status == 400


def _first_entry(answer):
    return answer["choices"][0]["prompt_logprobs"][1]


def _keep_one(answer):
    entry = _first_entry(answer)
    own = next(iter(entry))
    answer["choices"][0]["prompt_logprobs"][1] = {own: entry[own]}
    return answer


def _drop_own(answer):
    entry = _first_entry(answer)
    del entry[next(iter(entry))]
    return answer


def _set_logprob(value):
    def edit(answer):
        entry = _first_entry(answer)
        entry[next(iter(entry))]["logprob"] = value
        return answer
    return edit


def _foreign_token(answer):
    entry = _first_entry(answer)
    entry[str(VOCAB + 5)] = {"logprob": -0.1, "rank": 1, "decoded_token": "?"}
    return answer


MALFORMED = {
    "not-json": ((200, {}, b"<html>busy</html>"), "it is not JSON: '<html>busy</html>'"),
    "no-prompt-logprobs": (("edit", lambda a: {"choices": [{"text": ""}]}),
                           "it has no choices[0].prompt_logprobs (does the server serve vLLM's prompt_logprobs?)"),
    "short": (("edit", lambda a: {"choices": [{"prompt_logprobs": [None]}]}),
              "prompt_logprobs has 1 entries for a prompt of 3 tokens"),
    "fewer-than-k": (("edit", _keep_one), "prompt_logprobs[1] holds 1 log-probs, fewer than K = 3"),
    "own-token-missing": (("edit", _drop_own), "prompt_logprobs[1] lacks the prompt's own token"),
    "nan": (("edit", _set_logprob(math.nan)), "has logprob nan"),
    "text": (("edit", _set_logprob("-0.5")), "has logprob '-0.5'"),
    "outside-vocabulary": (("edit", _foreign_token),
                           f"prompt_logprobs[1] names token {VOCAB + 5}, outside the student's vocabulary of {VOCAB}"),
    "not-a-map": (("edit", lambda a: {"choices": [{"prompt_logprobs": [None, [1, 2], {}]}]}),
                  "prompt_logprobs[1] is [1, 2], not a map of token ids"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_answer_is_reported_not_retried(server, case):
    action, expected = MALFORMED[case]
    ids = torch.tensor([[11, 12, 13, 14]])
    mask = torch.tensor([[True, True, False, False]])  # the prompt sent: [11, 12, 13]
    server.script = [action]
    with pytest.raises(TeacherEndpointError) as failure:
        remote(server).topk(ids, None, mask, 3)
    message = str(failure.value)
    assert message.startswith(f"teacher endpoint 'served' (POST {server.base_url}/completions) answered what is "
                              "not vLLM's prompt_logprobs: ")
    assert expected in message
    assert len(server.requests) == 1


def test_one_failed_document_stops_the_others_retrying(server):
    ids, pos, mask = packed_batch()
    server.script = [(400, {}, b'{"message": "bad prompt"}')] + [(503, {}, b"")] * 200
    pending = remote(server, concurrency=6, retries=100, backoff=0.05, max_backoff=0.05).submit(ids, pos, mask, 2)
    started = time.monotonic()
    with pytest.raises(TeacherEndpointError, match="HTTP 400: bad prompt"):
        pending.result()
    assert time.monotonic() - started < 2
    deadline = time.monotonic() + 2
    while not all(f.done() for f in pending.futures) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(f.done() for f in pending.futures)
    assert len(server.requests) < 60


def step_with_gradients(stage, step):
    """The step's metrics and the gradients the optimizer was about to apply."""
    grads = {}

    def keep(optimizer, args, kwargs):
        grads.update({n: p.grad.clone() for n, p in stage.model.named_parameters() if p.grad is not None})

    handle = stage.optimizer.register_step_pre_hook(keep)
    try:
        return stage.step(step), grads
    finally:
        handle.remove()


@pytest.mark.parametrize("divergence", ["forward_kl", "jsd"])
@pytest.mark.parametrize("sampled", [False, True], ids=["dataset-responses", "sampled"])
def test_an_opd_step_with_the_served_teacher_equals_the_local_one(server, teacher_model, sampled, divergence):
    settings = dict(lr=1e-3, topK=6, gradAccum=2, divergence=divergence, beta=0.3, maxTokens=5, stopIds=[],
                    clipGradNorm=0.0, **{"lambda": float(sampled)})
    data = ToyData(VOCAB, rows=4, doc_len=6, docs=2, prompts=3, seed=6)
    local = make_stage("opd", init_model(tiny_config("tiny"), 1), data, teacher=teacher_model, **settings)
    served = make_stage("opd", init_model(tiny_config("tiny"), 1), data, teacher=remote(server), **settings)
    local_metrics, local_grads = step_with_gradients(local, 1)
    served_metrics, served_grads = step_with_gradients(served, 1)
    assert local_metrics["sampled_fraction"] == served_metrics["sampled_fraction"] == float(sampled)
    assert served_metrics["loss"] == pytest.approx(local_metrics["loss"], rel=1e-5)
    assert served_metrics["grad_norm"] == pytest.approx(local_metrics["grad_norm"], rel=1e-5)
    assert local_grads.keys() == served_grads.keys() and local_grads
    for name, grad in local_grads.items():
        torch.testing.assert_close(served_grads[name], grad, rtol=1e-4, atol=1e-7, msg=name)
    # The served step's kl_topk is the forward KL over the top K and the tail, at most the full KL.
    assert "kl" not in served_metrics
    assert 0 < served_metrics["kl_topk"] <= local_metrics["kl"]
    if divergence == "forward_kl":
        assert served_metrics["kl_topk"] == pytest.approx(served_metrics["loss"], rel=1e-5)
    assert len(server.requests) == 3  # one request per example: its prompt and completion


def test_a_run_with_a_teacher_endpoint_loads_no_teacher_model(server, tmp_path, monkeypatch):
    server.api_key = "sk-run-key"
    monkeypatch.setenv(API_KEY_ENV, "sk-run-key")
    loaded = []
    real_load = train.load_model
    monkeypatch.setattr(train, "load_model", lambda spec, *a, **kw: loaded.append(spec) or real_load(spec, *a, **kw))
    endpoint = {"name": "served", "baseUrl": server.base_url, "model": "tiny-teacher"}
    config = RunConfig(stage="opd", model={"tiny": "tiny", "seed": 1}, total_steps=2, teacher={"endpoint": endpoint},
                       hyper=Hyper.from_dict({"topK": 4, "lambda": 0.0}), checkpoint_dir=str(tmp_path / "ck"))
    sink = RecordingSink()
    assert train.run(config, ToyData(VOCAB, rows=2, doc_len=6, docs=2), None, sink) == 0
    assert loaded == [{"tiny": "tiny", "seed": 1}]
    assert sorted(sink.metric_log) == [1, 2]
    assert all(m["kl_topk"] > 0 and "kl" not in m for m in sink.metric_log.values())
    assert len(server.requests) == 8 and server.refused == 0

    config.hyper = Hyper.from_dict({"topK": 0})
    with pytest.raises(ValueError, match="a teacher endpoint serves its top-K log-probs only"):
        train.run(config, ToyData(VOCAB), None, RecordingSink())
