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


class Refused(Exception):
    """An answer not worth retrying (a 4xx other than 429): its status and the failure as the caller words it."""

    def __init__(self, status: int, failure: str):
        super().__init__(failure)
        self.status, self.failure = status, failure


class GaveUp(Exception):
    """Retries ran out (`attempts` made), or the caller abandoned the request while waiting (`attempts` None)."""

    def __init__(self, attempts: Optional[int], failure: str):
        super().__init__(failure)
        self.attempts, self.failure = attempts, failure


def request_with_retries(
    request: Callable[[], urllib.request.Request],
    *,
    timeout: float,
    retries: int,
    backoff: float,
    max_backoff: float,
    jitter: random.Random,
    http_failure: Callable[[int, bytes], str],
    wait: Callable[[float], bool],
    abandoned: Callable[[], bool] = lambda: False,
) -> bytes:
    """The body of a request made by `request()`, retried on 429, 5xx and connection errors (refused, reset,
    timeouts) with exponential backoff and jitter, never sooner than a 429's Retry-After. `http_failure(code,
    body)` words an HTTP error; `wait(seconds)` sleeps and says whether the caller abandoned the request meanwhile.
    Raises Refused for any other HTTP error, GaveUp when the retries run out or the request is abandoned."""
    attempt = 0
    while True:
        retry_after = 0.0
        try:
            with urllib.request.urlopen(request(), timeout=timeout) as response:
                return response.read()
        except urllib.error.HTTPError as e:
            failure = http_failure(e.code, e.read())
            if e.code != 429 and e.code < 500:
                raise Refused(e.code, failure) from None
            try:
                retry_after = float(e.headers.get("Retry-After", 0))
            except ValueError:  # an HTTP date instead of seconds: fall back to the backoff
                pass
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:  # refused, reset, timeouts
            failure = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
        if attempt == retries or abandoned():
            raise GaveUp(attempt + 1, failure)
        delay = min(max_backoff, backoff * 2**attempt) * jitter.uniform(0.5, 1.0)
        if wait(max(delay, retry_after)):
            raise GaveUp(None, failure)
        attempt += 1


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
        try:
            return request_with_retries(
                lambda: urllib.request.Request(url, data=data, method=method, headers=headers),
                timeout=self.timeout, retries=self.retries, backoff=self.backoff, max_backoff=self.max_backoff,
                jitter=self._jitter, http_failure=lambda code, body: f"HTTP {code} {_error_message(body)}",
                wait=lambda seconds: self.sleep(seconds) or False,
            )
        except Refused as e:
            raise EngineError(f"{method} {path} failed: {e.failure}", e.status) from None
        except GaveUp as e:
            raise EngineError(f"{method} {path} failed after {e.attempts} attempts: {e.failure}") from None

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
