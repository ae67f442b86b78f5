"""A distillation teacher served over HTTP: its top-K log-probs of our tokens from an OpenAI-compatible
`/completions` endpoint with vLLM's `prompt_logprobs`, in the form `teacher_topk` gives for a local teacher.

What is relied on (vLLM's completions API; docs/engine-protocol.md, "Teacher endpoints"): the request
{"model", "prompt": [token ids], "max_tokens": 1, "prompt_logprobs": K, "temperature": 0} is answered with
`choices[0].prompt_logprobs`, one entry per prompt token: the first null (nothing precedes it), entry i a map from
token id (a JSON string) to {"logprob", "rank", "decoded_token"} holding the K most likely tokens at position i
given tokens 0..i-1, and the prompt's own token i as well (so K + 1 entries when it is not among them). The map's
order carries nothing: the K largest log-probs are taken. Temperature 0 keeps a server from scaling the logits the
log-probs are computed from; vLLM refuses a K above its `--max-logprobs` (20 by default) with a 400.

Our position t predicts token t + 1, so its teacher distribution is entry t + 1. Packed rows go one document at a
time (a document is a run of position ids counting up by one, as transformers reads packed rows), each cut after
the token that follows its last distilled position: the teacher sees each document alone, as a local teacher does
through its block-diagonal attention, and padding is never sent. A distilled position that ends its document has
no next token there; the distribution does not depend on it, so token 0 is sent in its place.

Documents are asked for concurrently from a thread pool (at most `concurrency` requests in flight), each retried
with backoff on 429, 5xx, connection errors and timeouts; any other failure, and an answer not of the shape above,
raises TeacherEndpointError naming the endpoint, the status and the server's message. The key (from
SOVEREIGN_TEACHER_API_KEY, which the trainer sets on the engine's process) is sent as a bearer token to this
endpoint only and replaced by "[redacted]" wherever a message could carry it.
"""

import json
import math
import os
import random
import threading
import urllib.request
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from .client import GaveUp, Refused, request_with_retries

API_KEY_ENV = "SOVEREIGN_TEACHER_API_KEY"
_FILLER = 0  # stands for the missing next token of a distilled position that ends its document


class TeacherEndpointError(RuntimeError):
    """A request the teacher endpoint refused, kept failing, or answered in a shape we cannot read."""

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.status = status


def documents(ids: torch.Tensor, position_ids: Optional[torch.Tensor], mask: torch.Tensor):
    """The prompts to send for the distilled positions of rows ids [B, T] (mask [B, T]), in row-major order of the
    mask: [(tokens, positions)] per document holding a distilled position, the tokens from the document's start
    through the one after its last distilled position, and the distilled positions counted from that start."""
    rows, masks = ids.tolist(), mask.tolist()
    positions = None if position_ids is None else position_ids.tolist()
    out: List[Tuple[List[int], List[int]]] = []
    for r, row in enumerate(rows):
        starts = [0] + [t for t in range(1, len(row)) if positions and positions[r][t] != positions[r][t - 1] + 1]
        for start, end in zip(starts, starts[1:] + [len(row)]):
            wanted = [t - start for t in range(start, end) if masks[r][t]]
            if wanted:
                tokens = row[start : min(end, start + wanted[-1] + 2)]
                out.append((tokens + [_FILLER] * (wanted[-1] + 2 - len(tokens)), wanted))
    return out


class PendingTopK:
    """The top-K of one submit, arriving: result() waits for every document and concatenates them in order."""

    def __init__(self, futures: List[Future], abandoned: threading.Event, k: int):
        self.futures, self.abandoned, self.k = futures, abandoned, k

    def result(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """ids [N, K] int64 and log-probs [N, K] fp32 on the CPU, each row sorted by log-prob, largest first."""
        try:
            done, _ = wait_for(self.futures, return_when=FIRST_EXCEPTION)
            failure = next((f.exception() for f in done if f.exception() is not None), None)
            if failure is not None:
                raise failure
            parts = [future.result() for future in self.futures]
        except BaseException:
            # The other documents of this batch are of no use now: stop their retries and drop the queued ones.
            self.abandoned.set()
            for future in self.futures:
                future.cancel()
            raise
        ids = torch.tensor([i for p in parts for i in p[0]], dtype=torch.long).view(-1, self.k)
        logprobs = torch.tensor([v for p in parts for v in p[1]], dtype=torch.float32).view(-1, self.k)
        return ids, logprobs


class RemoteTeacher:
    """The teacher at an OpenAI-compatible endpoint with vLLM's prompt_logprobs (see the module docstring)."""

    def __init__(
        self,
        base_url: str,  # the API root, e.g. http://127.0.0.1:8000/v1
        model: str,  # the model name the server serves the teacher as
        *,
        name: str = "teacher",  # the endpoint's name in the operator's configuration, for messages
        api_key: Optional[str] = None,  # sent as a bearer token; None: no Authorization header
        vocab_size: Optional[int] = None,  # the student's vocabulary; ids at or past it are refused
        concurrency: int = 8,  # requests in flight at once
        timeout: float = 300.0,  # seconds per request; a long document's prompt log-probs take a while
        retries: int = 8,  # attempts after the first
        backoff: float = 0.5,  # seconds before the first retry, doubled each time
        max_backoff: float = 30.0,
    ):
        self.url = base_url.rstrip("/") + "/completions"
        self.model, self.name, self.vocab_size = model, name, vocab_size
        self._key = api_key or None
        self.timeout, self.retries, self.backoff, self.max_backoff = timeout, retries, backoff, max_backoff
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"teacher-{name}")
        self._jitter = random.Random()  # private, so retries never disturb the training RNG state

    @classmethod
    def from_endpoint(cls, endpoint: Dict[str, Any], **kwargs) -> "RemoteTeacher":
        """From /config's teacher.endpoint {"name", "baseUrl", "model"}, the key from SOVEREIGN_TEACHER_API_KEY."""
        missing = [key for key in ("name", "baseUrl", "model") if not endpoint.get(key)]
        if missing:
            raise ValueError(f"teacher endpoint lacks {missing}")
        return cls(endpoint["baseUrl"], endpoint["model"], name=endpoint["name"],
                   api_key=os.environ.get(API_KEY_ENV), **kwargs)

    def __repr__(self) -> str:
        return f"RemoteTeacher({self.name!r}, {self.url!r}, model={self.model!r}, key={'set' if self._key else 'none'})"

    def submit(self, ids: torch.Tensor, position_ids: Optional[torch.Tensor], mask: torch.Tensor,
               k: int) -> PendingTopK:
        """Starts asking for the top-k at the distilled positions (mask) of rows ids [B, T]; position ids restart
        at 0 for each packed document (None: one document per row). The rows are read now, on the caller's
        thread; the requests run on the pool."""
        if k < 1:
            raise ValueError(f"a teacher endpoint serves top-K log-probs: K must be at least 1, got {k}")
        abandoned = threading.Event()
        futures = [self._pool.submit(self._document, tokens, wanted, k, abandoned)
                   for tokens, wanted in documents(ids, position_ids, mask)]
        return PendingTopK(futures, abandoned, k)

    def topk(self, ids: torch.Tensor, position_ids: Optional[torch.Tensor], mask: torch.Tensor, k: int):
        """submit(...).result(): ids [N, K] int64 and log-probs [N, K] fp32 for the N distilled positions."""
        return self.submit(ids, position_ids, mask, k).result()

    def close(self, wait: bool = False) -> None:
        """Drops the queued requests; with wait, returns once those in flight have ended."""
        self._pool.shutdown(wait=wait, cancel_futures=True)

    # one document

    def _document(self, tokens: List[int], wanted: Sequence[int], k: int, abandoned: threading.Event):
        body = {"model": self.model, "prompt": tokens, "max_tokens": 1, "prompt_logprobs": k, "temperature": 0}
        answer = self._post(body, abandoned)
        try:
            entries = answer["choices"][0]["prompt_logprobs"]
        except (KeyError, IndexError, TypeError):
            raise self._malformed("it has no choices[0].prompt_logprobs (does the server serve vLLM's "
                                  "prompt_logprobs?)") from None
        if not isinstance(entries, list) or len(entries) != len(tokens):
            got = len(entries) if isinstance(entries, list) else type(entries).__name__
            raise self._malformed(f"prompt_logprobs has {got} entries for a prompt of {len(tokens)} tokens")
        ids: List[int] = []
        logprobs: List[float] = []
        for t in wanted:
            top = self._top(entries[t + 1], t + 1, tokens[t + 1], k)
            ids += [token for token, _ in top]
            logprobs += [value for _, value in top]
        return ids, logprobs

    def _top(self, entry: Any, i: int, own: int, k: int) -> List[Tuple[int, float]]:
        """The k most likely (token id, log-prob) of prompt_logprobs[i], largest first."""
        if not isinstance(entry, dict):
            raise self._malformed(f"prompt_logprobs[{i}] is {json.dumps(entry)[:80]}, not a map of token ids")
        items = []
        for key, value in entry.items():
            try:
                token, logprob = int(key), value["logprob"]
            except (ValueError, TypeError, KeyError):
                raise self._malformed(f"prompt_logprobs[{i}] holds {key!r}: {json.dumps(value)[:80]}, not a "
                                      'token id with {"logprob"}') from None
            if isinstance(logprob, bool) or not isinstance(logprob, (int, float)) or math.isnan(logprob) \
                    or logprob == math.inf:
                raise self._malformed(f"prompt_logprobs[{i}][{key!r}] has logprob {logprob!r}")
            if token < 0 or (self.vocab_size is not None and token >= self.vocab_size):
                raise self._malformed(f"prompt_logprobs[{i}] names token {token}, outside the student's "
                                      f"vocabulary of {self.vocab_size}: do teacher and student share a tokenizer?")
            rank = value.get("rank")
            items.append((-float(logprob), rank if isinstance(rank, int) else math.inf, token))
        if own not in {token for _, _, token in items}:
            raise self._malformed(f"prompt_logprobs[{i}] lacks the prompt's own token {own}: the server did not "
                                  "score the tokens sent")
        if len(items) < k:
            raise self._malformed(f"prompt_logprobs[{i}] holds {len(items)} log-probs, fewer than K = {k}")
        return [(token, -negative) for negative, _, token in sorted(items)[:k]]

    # transport

    def _post(self, body: Dict[str, Any], abandoned: threading.Event) -> Any:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        try:
            raw = request_with_retries(
                lambda: urllib.request.Request(self.url, data=data, method="POST", headers=headers),
                timeout=self.timeout, retries=self.retries, backoff=self.backoff, max_backoff=self.max_backoff,
                jitter=self._jitter, http_failure=lambda code, body: f"HTTP {code}: {_server_message(body)}",
                wait=abandoned.wait, abandoned=abandoned.is_set,
            )
        except Refused as e:
            hint = " (check the key the operator configured for it)" if e.status in (401, 403) else ""
            raise TeacherEndpointError(self._redact(f"{self._where()} refused{hint}: {e.failure}"), e.status) from None
        except GaveUp as e:
            if e.attempts is None:
                raise TeacherEndpointError(self._redact(f"{self._where()} failed: {e.failure}")) from None
            raise TeacherEndpointError(self._redact(f"{self._where()} failed after {e.attempts} attempts: "
                                                    f"{e.failure}")) from None
        try:
            return json.loads(raw)
        except ValueError:
            raise self._malformed(f"it is not JSON: {raw[:200].decode('utf-8', 'replace')!r}") from None

    def _where(self) -> str:
        return f"teacher endpoint {self.name!r} (POST {self.url})"

    def _malformed(self, what: str) -> TeacherEndpointError:
        return TeacherEndpointError(self._redact(f"{self._where()} answered what is not vLLM's prompt_logprobs: "
                                                 f"{what}"))

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[redacted]") if self._key else text


def _server_message(body: bytes) -> str:
    """The message of OpenAI's {"error": {"message"}} or vLLM's {"message"} error shape, else the body."""
    try:
        answer = json.loads(body)
        error = answer.get("error", answer)
        return str(error["message"] if isinstance(error, dict) else error)[:500]
    except (ValueError, KeyError, TypeError, AttributeError):
        return body.decode("utf-8", "replace")[:500] or "(empty body)"
