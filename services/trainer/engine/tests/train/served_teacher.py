"""A loopback test server for served teachers: `POST /v1/completions` answering vLLM's `prompt_logprobs` from a
tiny transformers model, so a teacher endpoint can be checked against the same model as a local teacher.

It answers {"model", "prompt": [token ids], "prompt_logprobs": K, ...} as vLLM does: choices[0].prompt_logprobs
with null first, then for each prompt token i a map from token id (a string) to {"logprob", "rank",
"decoded_token"} holding the top K at position i and token i itself (written first, as the order means nothing);
a 400 for K above `max_logprobs` (vLLM's default 20), a 404 for another model name, and with `api_key` set a 401
for any other bearer token, whose message repeats the key it was given (as some servers do). `script` holds
answers to give before computing (HTTP errors, dropped connections, delays, edited answers), `requests` every
request, `max_in_flight` the most requests it answered at once. This is a test server, not a teacher to train
with.

Tests start it in a thread (`ServedTeacher(model)`); the trainer's tests as a process:

    python tests/train/served_teacher.py --tiny tiny --seed 2 [--name NAME] [--api-key-env VAR]

prints {"baseUrl": ...} as its first stdout line, serves until its stdin closes, then prints {"requests",
"refused"} (requests refused for their key) and exits.
"""

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sovereign_engine.models import CausalLM, init_model, tiny_config  # noqa: E402


def prompt_logprobs(model: CausalLM, prompt, k: int):
    """vLLM's prompt_logprobs for prompt under model: [None, {token id: {"logprob", "rank", "decoded_token"}}...]."""
    with torch.no_grad():
        logp = model.logits(model(torch.tensor([prompt]))[0]).float().log_softmax(-1)
    entries = [None]
    for i in range(1, len(prompt)):
        row, own = logp[i - 1], prompt[i]
        entry = {str(own): {"logprob": float(row[own]), "rank": int((row > row[own]).sum()) + 1,
                            "decoded_token": f"<{own}>"}}
        top = row.topk(k)
        for rank, (token, value) in enumerate(zip(top.indices.tolist(), top.values.tolist()), start=1):
            entry[str(token)] = {"logprob": value, "rank": rank, "decoded_token": f"<{token}>"}
        entries.append(entry)
    return entries


class ServedTeacher:
    def __init__(self, model: CausalLM, *, name: str = "teacher", api_key=None, max_logprobs: int = 20):
        self.model, self.name, self.api_key, self.max_logprobs = model.eval(), name, api_key, max_logprobs
        # Each entry is given to one request, in order: (status, headers, body bytes); ("drop",) closes the
        # connection unanswered; ("sleep", seconds) waits, then answers; ("edit", fn) answers fn(the right answer).
        self.script = []
        self.requests = []
        self.refused = 0
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with server.lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    action = server.script.pop(0) if server.script else None
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    server.answer(self, body, action)
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, handler, body: bytes, action):
        if action and action[0] == "drop":
            handler.close_connection = True
            return
        if action and action[0] == "sleep":
            time.sleep(action[1])
        elif action and isinstance(action[0], int):
            return self.send(handler, *action)
        if handler.path != "/v1/completions":
            return self.error(handler, 404, f"no route {handler.path}")
        given = handler.headers.get("Authorization", "")
        if self.api_key is not None and given != f"Bearer {self.api_key}":
            with self.lock:
                self.refused += 1
            return self.send(handler, 401, {}, json.dumps({"error": {
                "message": f"Incorrect API key provided: {given.removeprefix('Bearer ') or '(none)'}",
                "type": "invalid_request_error", "code": "invalid_api_key"}}).encode())
        request = json.loads(body)
        if request.get("model") != self.name:
            return self.error(handler, 404, f"The model `{request.get('model')}` does not exist.")
        k, prompt = request.get("prompt_logprobs"), request.get("prompt")
        if not isinstance(k, int) or k > self.max_logprobs:
            return self.error(handler, 400, f"Requested prompt logprobs of {k}, which is greater than max allowed: "
                                            f"{self.max_logprobs}")
        answer = {
            "id": "cmpl-test", "object": "text_completion", "created": int(time.time()), "model": self.name,
            "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": "length",
                         "prompt_logprobs": prompt_logprobs(self.model, prompt, k)}],
            "usage": {"prompt_tokens": len(prompt), "completion_tokens": 1, "total_tokens": len(prompt) + 1},
        }
        if action and action[0] == "edit":
            answer = action[1](answer)
        self.send(handler, 200, {}, json.dumps(answer).encode())

    def error(self, handler, status: int, message: str):
        """vLLM's error shape."""
        body = {"object": "error", "message": message, "type": "BadRequestError", "param": None, "code": status}
        self.send(handler, status, {}, json.dumps(body).encode())

    @staticmethod
    def send(handler, status: int, headers, body: bytes):
        handler.send_response(status)
        for key, value in {"Content-Type": "application/json", **headers}.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def main():
    parser = argparse.ArgumentParser(description="A loopback test server answering vLLM's prompt_logprobs.")
    parser.add_argument("--tiny", default="tiny", help="the engine's tiny config to draw the teacher from")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="teacher", help="the model name requests must ask for")
    parser.add_argument("--api-key-env", help="the variable holding the bearer key requests must carry")
    args = parser.parse_args()
    key = os.environ[args.api_key_env] if args.api_key_env else None
    server = ServedTeacher(init_model(tiny_config(args.tiny), args.seed), name=args.name, api_key=key)
    print(json.dumps({"baseUrl": server.base_url}), flush=True)
    sys.stdin.read()
    server.close()
    print(json.dumps({"requests": len(server.requests), "refused": server.refused}), flush=True)


if __name__ == "__main__":
    main()
