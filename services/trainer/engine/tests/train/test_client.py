"""The engine's HTTP client against a scripted protocol test server: retries, errors, auth and payload shapes.

The server here only replays canned responses so the transport behaviour can be checked; it is not the
trainer service.
"""

import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from sovereign_engine.client import EngineClient, EngineError, Rollout
from sovereign_engine.frames import encode_frame


class ProtocolTestServer:
    """Answers each request with the next scripted (status, headers, body) for its path; records every request."""

    def __init__(self):
        self.script = {}
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                server.requests.append({"method": self.command, "url": self.path, "headers": dict(self.headers),
                                        "body": body})
                status, headers, payload = server.script[path].pop(0)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


PREFIX = "/v1/engine/runs/run-1"
JSON = {"Content-Type": "application/json"}


def error(code, message):
    return json.dumps({"error": {"code": code, "message": message, "requestId": "req-9"}}).encode()


@pytest.fixture
def server():
    s = ProtocolTestServer()
    yield s
    s.close()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(server, sleeps, monkeypatch):
    monkeypatch.setenv("SOVEREIGN_ENGINE_TOKEN", "secret-token")
    return EngineClient(server.url, "run-1", rank=1, world=2, retries=3, backoff=0.5, sleep=sleeps.append)


def test_429_is_retried_after_at_least_retry_after(server, client, sleeps):
    server.script[PREFIX + "/config"] = [
        (429, {"Retry-After": "7", **JSON}, error("rate_limited", "slow down")),
        (200, JSON, json.dumps({"stage": "sft", "totalSteps": 3}).encode()),
    ]
    assert client.config() == {"stage": "sft", "totalSteps": 3}
    assert len(sleeps) == 1 and sleeps[0] >= 7
    assert [r["headers"]["Authorization"] for r in server.requests] == ["Bearer secret-token"] * 2


def test_500_is_retried_with_growing_jittered_backoff(server, client, sleeps):
    frame = encode_frame({"step": 3, "role": "train"}, {"input_ids": torch.arange(6).view(2, 3)})
    server.script[PREFIX + "/batches/3"] = [
        (500, JSON, error("internal", "boom")),
        (503, {}, b"unavailable"),
        (200, {"Content-Type": "application/octet-stream"}, frame),
    ]
    got = client.batch(3, "train")
    assert got["input_ids"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert server.requests[-1]["url"] == PREFIX + "/batches/3?rank=1&world=2&role=train"
    assert server.requests[-1]["headers"]["Accept"] == "application/octet-stream"
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0  # backoff 0.5 * 2**attempt, jitter in [1/2, 1]


def test_400_raises_at_once_with_the_service_message(server, client, sleeps):
    server.script[PREFIX + "/status"] = [(400, JSON, error("invalid_request", "state must be running"))]
    with pytest.raises(EngineError, match="HTTP 400 invalid_request: state must be running \\(request req-9\\)") as e:
        client.status("bogus")
    assert e.value.status == 400 and sleeps == [] and len(server.requests) == 1


def test_retries_give_up_with_the_last_failure(server, client, sleeps):
    server.script[PREFIX + "/metrics"] = [(502, JSON, error("bad_gateway", f"try {i}")) for i in range(4)]
    with pytest.raises(EngineError, match="failed after 4 attempts: HTTP 502 bad_gateway: try 3"):
        client.metrics(1, {"loss": 1.0})
    assert len(sleeps) == 3


def test_connection_errors_are_retried(sleeps):
    unused = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = unused.server_address[1]
    unused.server_close()  # nothing listens on this port now
    client = EngineClient(f"http://127.0.0.1:{port}", "run-1", retries=2, sleep=sleeps.append)
    with pytest.raises(EngineError, match="failed after 3 attempts"):
        client.config()
    assert len(sleeps) == 2


def test_rewards_and_posts_carry_the_protocol_payloads(server, client):
    octets = {"Content-Type": "application/octet-stream"}
    server.script[PREFIX + "/rollouts"] = [(200, octets, struct.pack("<2f", 0.5, -1))]
    server.script[PREFIX + "/metrics"] = [(200, JSON, b'{"stop": false}')]
    for name in ("checkpoints", "status"):
        server.script[f"{PREFIX}/{name}"] = [(204, {}, b"")]
    rewards = client.rewards(7, [Rollout("p1", [1, 2], [3]), Rollout("p2", [4], [5, 6])])
    assert rewards.dtype == torch.float32 and rewards.tolist() == [0.5, -1.0]
    assert client.metrics(7, {"loss": 0.25}) is False
    client.checkpoint(7, "/ck/step-7", [{"name": "model.safetensors", "sha256": "ab", "bytes": 3}])
    client.status("running", "started")
    bodies = [json.loads(r["body"]) for r in server.requests]
    assert bodies[0] == {"step": 7, "items": [{"prompt": "p1", "promptIds": [1, 2], "completionIds": [3]},
                                              {"prompt": "p2", "promptIds": [4], "completionIds": [5, 6]}]}
    assert server.requests[0]["headers"]["Accept"] == "application/octet-stream"
    assert bodies[1] == {"step": 7, "rank": 1, "metrics": {"loss": 0.25}}
    assert bodies[2] == {"step": 7, "path": "/ck/step-7",
                         "files": [{"name": "model.safetensors", "sha256": "ab", "bytes": 3}]}
    assert bodies[3] == {"state": "running", "message": "started"}


def test_metrics_return_whether_the_service_asks_the_run_to_stop(server, client):
    server.script[PREFIX + "/metrics"] = [(200, JSON, b'{"stop": false}'), (200, JSON, b'{"stop": true}')]
    assert client.metrics(1, {"loss": 1.0}) is False
    assert client.metrics(2, {"loss": 0.5}) is True


@pytest.mark.parametrize("answer", [b"", b"{}", b'{"stop": "yes"}', b"[true]"])
def test_metrics_refuse_an_answer_that_is_not_a_stop_flag(server, client, answer):
    server.script[PREFIX + "/metrics"] = [(200, JSON, answer)]
    with pytest.raises(EngineError, match=r'POST /metrics answered .*, not \{"stop": true\|false\}'):
        client.metrics(1, {"loss": 1.0})


def test_reward_count_mismatch_is_an_error(server, client):
    server.script[PREFIX + "/rollouts"] = [(200, {}, struct.pack("<f", 1.0))]
    with pytest.raises(EngineError, match="4 bytes for 2 float32 rewards"):
        client.rewards(1, [Rollout("a", [1], [2]), Rollout("b", [1], [2])])


def test_turns_post_the_live_rollouts_and_read_done_or_ids_to_append(server, client):
    server.script[PREFIX + "/turns"] = [
        (200, JSON, b'{"items": [{"done": true}, {"done": false, "append": [151645, 198, 151644]}]}')]
    answers = client.turns(3, [Rollout("p1", [1, 2], [3, 151645]), Rollout("p2", [4], [5])])
    assert answers == [None, [151645, 198, 151644]]
    assert json.loads(server.requests[0]["body"]) == {
        "step": 3, "items": [{"prompt": "p1", "promptIds": [1, 2], "completionIds": [3, 151645]},
                             {"prompt": "p2", "promptIds": [4], "completionIds": [5]}]}


@pytest.mark.parametrize("answer", [b'{"items": [{"done": false}]}', b'{"items": []}', b"[]"])
def test_turns_refuse_an_answer_of_another_shape(server, client, answer):
    server.script[PREFIX + "/turns"] = [(200, JSON, answer)]
    with pytest.raises(EngineError, match="POST /turns answered"):
        client.turns(1, [Rollout("a", [1], [2])])
