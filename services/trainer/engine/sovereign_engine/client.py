"""The engine's side of the HTTP protocol (docs/engine-protocol.md), and the interfaces training code reads through.

Training code only sees `DataSource` (batch frames), `RewardSource` (rollout rewards) and `EventSink` (metrics,
checkpoints, status); `EngineClient` implements all three over HTTP, and tests implement them in Python.
"""

import http.client
import json
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence

import torch

from .frames import Frame, decode_frame

TOKEN_ENV = "SOVEREIGN_ENGINE_TOKEN"


@dataclass
class Rollout:
    """One completion to score: the prompt's id and tokens, and the sampled completion tokens."""

    prompt: str
    prompt_ids: List[int]
    completion_ids: List[int]


class DataSource(Protocol):
    def batch(self, step: int, role: str) -> Frame:
        """This rank's frame for `step` of the given role ("train", "corpus" or "prompts")."""


class RewardSource(Protocol):
    def rewards(self, step: int, rollouts: Sequence[Rollout]) -> torch.Tensor:
        """float32 [len(rollouts)], one reward per rollout in order."""


class TurnSource(Protocol):
    def turns(self, step: int, rollouts: Sequence[Rollout]) -> List[Optional[List[int]]]:
        """Per rollout whose assistant turn just ended, in order: None when it is done, else the token ids to
        append to it (its tool turn and the next assistant header) before the policy writes again."""


class EventSink(Protocol):
    def metrics(self, step: int, metrics: Dict[str, float]) -> bool:
        """Reports a step's metrics; true when the service asks the run to stop at this step boundary."""

    def checkpoint(self, step: int, path: str, files: List[Dict[str, Any]]) -> None: ...

    def status(self, state: str, message: str = "") -> None: ...


class EngineError(RuntimeError):
    """A request the service refused, or that kept failing after every retry."""

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.status = status


def _error_message(body: bytes) -> str:
    """The message of the service's JSON error shape {"error": {"code", "message", "requestId"}}, else the body."""
    try:
        error = json.loads(body)["error"]
        text = f"{error.get('code', 'error')}: {error['message']}"
        return f"{text} (request {error['requestId']})" if error.get("requestId") else text
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace")[:500] or "(empty body)"


class EngineClient:
    """HTTP client of one rank of one run. 429, 5xx and connection errors are retried with exponential backoff
    and jitter (at least as long as a 429's Retry-After); any other error raises EngineError at once."""

    def __init__(
        self,
        server: str,
        run: str,
        *,
        rank: int = 0,
        world: int = 1,
        token: Optional[str] = None,
        timeout: float = 300.0,  # seconds per request; rewards from an LLM judge can take a while
        retries: int = 8,  # attempts after the first
        backoff: float = 0.5,  # seconds before the first retry, doubled each time
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base = f"{server.rstrip('/')}/v1/engine/runs/{urllib.parse.quote(run, safe='')}"
        self.rank, self.world = rank, world
        self.token = token if token is not None else os.environ.get(TOKEN_ENV)
        self.timeout, self.retries, self.backoff, self.max_backoff = timeout, retries, backoff, max_backoff
        self.sleep = sleep
        self._jitter = random.Random()  # private, so retries never disturb the training RNG state

    def _request(self, method: str, path: str, *, body: Any = None, accept: str = "application/json") -> bytes:
        url = self.base + path
        headers = {"Accept": accept}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body, allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            retry_after = 0.0
            request = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.read()
            except urllib.error.HTTPError as e:
                failure = f"HTTP {e.code} {_error_message(e.read())}"
                if e.code != 429 and e.code < 500:
                    raise EngineError(f"{method} {path} failed: {failure}", e.code) from None
                try:
                    retry_after = float(e.headers.get("Retry-After", 0))
                except ValueError:  # an HTTP date instead of seconds: fall back to the backoff
                    pass
            except (urllib.error.URLError, OSError, http.client.HTTPException) as e:  # refused, reset, timeouts
                failure = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            if attempt == self.retries:
                raise EngineError(f"{method} {path} failed after {attempt + 1} attempts: {failure}")
            delay = min(self.max_backoff, self.backoff * 2**attempt) * self._jitter.uniform(0.5, 1.0)
            self.sleep(max(delay, retry_after))
            attempt += 1

    def config(self) -> Dict[str, Any]:
        return json.loads(self._request("GET", "/config"))

    def batch(self, step: int, role: str) -> Frame:
        query = urllib.parse.urlencode({"rank": self.rank, "world": self.world, "role": role})
        return decode_frame(self._request("GET", f"/batches/{step}?{query}", accept="application/octet-stream"))

    def rewards(self, step: int, rollouts: Sequence[Rollout]) -> torch.Tensor:
        items = [{"prompt": r.prompt, "promptIds": r.prompt_ids, "completionIds": r.completion_ids} for r in rollouts]
        request = {"step": step, "items": items}
        body = self._request("POST", "/rollouts", body=request, accept="application/octet-stream")
        if len(body) != 4 * len(items):
            raise EngineError(f"POST /rollouts returned {len(body)} bytes for {len(items)} float32 rewards")
        if not items:
            return torch.empty(0)
        return torch.frombuffer(bytearray(body), dtype=torch.float32)

    def turns(self, step: int, rollouts: Sequence[Rollout]) -> List[Optional[List[int]]]:
        items = [{"prompt": r.prompt, "promptIds": r.prompt_ids, "completionIds": r.completion_ids} for r in rollouts]
        body = self._request("POST", "/turns", body={"step": step, "items": items})
        try:
            answers = json.loads(body)["items"]
            out = [None if a["done"] else [int(t) for t in a["append"]] for a in answers]
        except (ValueError, KeyError, TypeError):
            shape = '{"items": [{"done", "append"}]}'
            raise EngineError(f"POST /turns answered {body[:200]!r}, not {shape}") from None
        if len(out) != len(items):
            raise EngineError(f"POST /turns answered {len(out)} items for {len(items)} rollouts")
        return out

    def metrics(self, step: int, metrics: Dict[str, float]) -> bool:
        body = self._request("POST", "/metrics", body={"step": step, "rank": self.rank, "metrics": metrics})
        try:
            stop = json.loads(body)["stop"]
        except (ValueError, KeyError, TypeError):
            stop = None
        if not isinstance(stop, bool):
            raise EngineError(f"POST /metrics answered {body[:200]!r}, not {{\"stop\": true|false}}")
        return stop

    def checkpoint(self, step: int, path: str, files: List[Dict[str, Any]]) -> None:
        self._request("POST", "/checkpoints", body={"step": step, "path": path, "files": files})

    def status(self, state: str, message: str = "") -> None:
        self._request("POST", "/status", body={"state": state, "message": message})
