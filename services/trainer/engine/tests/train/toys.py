"""Toy models and in-process data, reward and event sources for the training tests (no HTTP involved)."""

from typing import Callable, Dict, List, Optional

import torch
from transformers import AutoConfig

from sovereign_engine.algorithms import Hyper, RunConfig
from sovereign_engine.frames import Frame
from sovereign_engine.models import CausalLM, init_model
from sovereign_engine.train import build_stage


def toy_config(vocab: int = 32, model_type: str = "qwen3", **overrides):
    fields = dict(
        vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, eos_token_id=None, bos_token_id=None, pad_token_id=None,
    )
    return AutoConfig.for_model(model_type, **{**fields, **overrides})


def toy_model(vocab: int = 32, seed: int = 0, **overrides) -> CausalLM:
    """A transformers Qwen3 (or `model_type`) with a toy vocabulary, drawn from seed in fp32."""
    return init_model(toy_config(vocab, **overrides), seed)


def successor(token: int, vocab: int) -> int:
    """The toy language: each token determines the next one (a permutation of the vocabulary)."""
    return (3 * token + 1) % vocab


def pattern(start: int, length: int, vocab: int) -> List[int]:
    seq = [start]
    while len(seq) < length:
        seq.append(successor(seq[-1], vocab))
    return seq


def packed_rows(generator: torch.Generator, rows: int, doc_len: int, docs: int, vocab: int) -> Frame:
    """Rows packing `docs` pattern documents each: labels are the next token inside a document, -100 at each
    document's last token; position ids restart at 0 per document."""
    ids, labels, positions = [], [], []
    for _ in range(rows):
        row_ids, row_labels = [], []
        for _ in range(docs):
            doc = pattern(int(torch.randint(vocab, (), generator=generator)), doc_len, vocab)
            row_ids += doc
            row_labels += doc[1:] + [-100]
        ids.append(row_ids)
        labels.append(row_labels)
        positions.append(list(range(doc_len)) * docs)
    arrays = {"input_ids": ids, "labels": labels, "position_ids": positions}
    return Frame({"role": "train"}, {k: torch.tensor(v, dtype=torch.int32) for k, v in arrays.items()})


def ragged(name: str, lists: List[List[int]]) -> Dict[str, torch.Tensor]:
    offsets = [0]
    for p in lists:
        offsets.append(offsets[-1] + len(p))
    return {
        f"{name}_offsets": torch.tensor(offsets, dtype=torch.int32),
        f"{name}_tokens": torch.tensor([t for p in lists for t in p], dtype=torch.int32),
    }


def prompt_frame(prompts: List[List[int]], completions: Optional[List[List[int]]] = None) -> Frame:
    """A prompts frame, with each prompt's dataset response when `completions` are given (a chat set's)."""
    arrays = ragged("prompt", prompts)
    if completions is not None:
        arrays.update(ragged("completion", completions))
    header = {"role": "prompts", "prompts": [{"id": f"p{i}", "index": i} for i in range(len(prompts))]}
    return Frame(header, arrays)


class ToyData:
    """Deterministic batches per (step, role), as the service promises: the same step always gets the same frame.
    Prompts come with their dataset responses, the toy language's next doc_len - prompt_len tokens, unless
    `responses` is False (RL prompts)."""

    def __init__(self, vocab: int, rows: int = 4, doc_len: int = 8, docs: int = 2, prompts: int = 4,
                 prompt_len: int = 3, seed: int = 0, responses: bool = True):
        self.vocab, self.rows, self.doc_len, self.docs = vocab, rows, doc_len, docs
        self.n_prompts, self.prompt_len, self.seed, self.responses = prompts, prompt_len, seed, responses
        self.requests: List[tuple] = []
        self.on_request: Optional[Callable[[int, str], None]] = None

    def batch(self, step: int, role: str) -> Frame:
        self.requests.append((step, role))
        if self.on_request:
            self.on_request(step, role)
        g = torch.Generator().manual_seed(self.seed * 1000 + step * 10 + ("train", "corpus", "prompts").index(role))
        if role == "prompts":
            starts = torch.randint(self.vocab, (self.n_prompts,), generator=g).tolist()
            docs = [pattern(s, self.doc_len, self.vocab) for s in starts]
            responses = [d[self.prompt_len:] for d in docs] if self.responses else None
            return prompt_frame([d[: self.prompt_len] for d in docs], responses)
        return packed_rows(g, self.rows, self.doc_len, self.docs, self.vocab)


class RankData:
    """Rank `rank` of `world`'s share of a data source's step batches, as the service deals them: the r-th of w equal
    consecutive parts of the rows (or prompts, with the header's rank and their index in the frame).

    uneven: the first half of a packed frame's rows have the first half of their positions unlabelled, so the
    ranks of a two-rank world hold unequal token counts.
    """

    def __init__(self, data, rank: int = 0, world: int = 1, uneven: bool = False):
        self.data, self.rank, self.world, self.uneven = data, rank, world, uneven
        self.on_request: Optional[Callable[[int, str], None]] = None

    def batch(self, step: int, role: str) -> Frame:
        if self.on_request:
            self.on_request(step, role)
        frame = self.data.batch(step, role)
        if role == "prompts":
            prompts, responses = frame.prompts(), frame.completions()
            share = len(prompts) // self.world
            mine = slice(self.rank * share, (self.rank + 1) * share)
            frame = prompt_frame(prompts[mine], None if responses is None else responses[mine])
            frame.header["rank"] = self.rank
            return frame
        arrays = {name: t.clone() for name, t in frame.arrays.items()}
        if self.uneven:
            labels = arrays["labels"]
            labels[: labels.shape[0] // 2, : labels.shape[1] // 2] = -100
        share = arrays["input_ids"].shape[0] // self.world
        rows = slice(self.rank * share, (self.rank + 1) * share)
        return Frame(dict(frame.header), {name: t[rows] for name, t in arrays.items()})


class TargetTokenReward:
    """Verifiable toy reward: the fraction of completion tokens equal to `target`."""

    def __init__(self, target: int):
        self.target = target
        self.calls: List[list] = []

    def rewards(self, step, rollouts):
        self.calls.append(list(rollouts))
        return torch.tensor(
            [sum(t == self.target for t in r.completion_ids) / max(len(r.completion_ids), 1) for r in rollouts],
            dtype=torch.float32,
        )


class RecordingSink:
    def __init__(self, stop_at: Optional[int] = None):
        self.stop_at = stop_at
        self.metric_log: Dict[int, Dict[str, float]] = {}
        self.checkpoints: List[tuple] = []
        self.statuses: List[tuple] = []

    def metrics(self, step, metrics):
        self.metric_log[step] = dict(metrics)
        return step == self.stop_at  # the service's answer: whether the run is to stop

    def checkpoint(self, step, path, files):
        self.checkpoints.append((step, path, files))

    def status(self, state, message=""):
        self.statuses.append((state, message))


def make_stage(stage: str, model, data, *, total_steps: int = 30, seed: int = 0, rewards=None, teacher=None,
               reference=None, tokenizer_vocab=None, **hyper):
    """A stage as the run loop builds it, with camelCase hyper settings."""
    config = RunConfig(stage=stage, model={}, total_steps=total_steps, seed=seed, hyper=Hyper.from_dict(hyper),
                       tokenizer_vocab=tokenizer_vocab)
    return build_stage(config, model, data, rewards=rewards, teacher=teacher, reference=reference)
