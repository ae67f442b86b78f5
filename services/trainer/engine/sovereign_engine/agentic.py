"""Multi-turn rollouts with tools: the policy writes an assistant turn, the trainer service reads it and answers
what to append (its tool results, rendered as the chat template's tool turn, and the next assistant header), and
the policy writes again, until the service says the rollout is done, the run's `maxTurns` assistant turns are
written, or the rollout would outgrow its token budget.

The engine never sees text: it sends each live rollout's prompt id and token ids to the service
(`TurnSource.turns`, `POST /turns` over HTTP) and appends the ids it gets back. It never runs what the model wrote.

A rollout's completion is everything after its prompt: the generated turns and the appended tokens between them.
Its loss mask is 1 on generated tokens and 0 on appended ones, so the policy loss trains only what the policy
wrote. Turn t of a rollout samples from seed (the rollout's seed, t): turn 0 uses the rollout's seed itself, so a
rollout that ends after one turn is what `sample` alone would have drawn.
"""

import hashlib
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

from .client import Rollout, TurnSource
from .sampler import sample


@dataclass
class AgenticRollout:
    prompt_ids: List[int]
    completion_ids: List[int] = field(default_factory=list)  # generated and appended tokens after the prompt
    mask: List[int] = field(default_factory=list)  # per completion token: 1 generated (trained), 0 appended
    turns: int = 0  # assistant turns written
    appended: int = 0  # times the service appended tokens (tool turns)


def turn_seed(seed: int, turn: int) -> int:
    """The seed of a rollout's turn `turn`: the rollout's own seed for turn 0, a hash of (seed, turn) after."""
    if turn == 0:
        return int(seed)
    digest = hashlib.sha256(f"{int(seed)}:turn:{turn}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def agentic_rollouts(
    model,
    prompts: Sequence[Sequence[int]],
    names: Sequence[str],
    seeds: Sequence[int],
    turns: TurnSource,
    step: int,
    *,
    max_turns: int,
    max_new_tokens: int,
    budget: Optional[int] = None,
    temperature: float = 1.0,
    top_p: float = 1.0,
    stop_ids: Sequence[int] = (),
    vocab_limit: Optional[int] = None,
    max_batch_tokens: Optional[int] = None,
    compile: bool = False,
) -> List[AgenticRollout]:
    """One multi-turn rollout per prompt (named `names[i]` to the service), at most `max_turns` assistant turns.

    `max_batch_tokens` and `compile` are the sampler's (sampler.sample). `budget` bounds prompt + completion tokens: a turn samples at most what is left of it, and a rollout whose
    next append would not leave room for one more generated token ends where it is.
    """
    if max_turns < 1:
        raise ValueError(f"maxTurns must be at least 1, got {max_turns}")
    if not (len(prompts) == len(names) == len(seeds)):
        raise ValueError(f"{len(prompts)} prompts, {len(names)} names and {len(seeds)} seeds")
    rollouts = [AgenticRollout(list(p)) for p in prompts]
    live = list(range(len(rollouts)))
    for turn in range(max_turns):
        room = {i: max_new_tokens if budget is None else min(max_new_tokens, budget - _length(rollouts[i]))
                for i in live}
        live = [i for i in live if room[i] > 0]
        if not live:
            break
        # Rows that may write fewer tokens than the others are sampled in a batch of their own size limit.
        for limit in sorted(set(room[i] for i in live)):
            rows = [i for i in live if room[i] == limit]
            completions = sample(
                model, [rollouts[i].prompt_ids + rollouts[i].completion_ids for i in rows],
                max_new_tokens=limit, temperature=temperature, top_p=top_p, stop_ids=stop_ids,
                seeds=[turn_seed(seeds[i], turn) for i in rows], vocab_limit=vocab_limit,
                max_batch_tokens=max_batch_tokens, compile=compile,
            )
            for i, c in zip(rows, completions):
                rollouts[i].completion_ids += c.tokens
                rollouts[i].mask += [1] * len(c.tokens)
                rollouts[i].turns += 1
        if turn == max_turns - 1:
            break
        answers = turns.turns(step, [Rollout(names[i], r.prompt_ids, r.completion_ids)
                                     for i in live for r in (rollouts[i],)])
        if len(answers) != len(live):
            raise ValueError(f"the turn source answered {len(answers)} items for {len(live)} rollouts")
        still = []
        for i, append in zip(live, answers):
            r = rollouts[i]
            if append is None:
                continue
            if budget is not None and _length(r) + len(append) >= budget:
                continue  # no room left to answer the tool results: the rollout ends with its last turn
            r.completion_ids += list(append)
            r.mask += [0] * len(append)
            r.appended += 1
            still.append(i)
        live = still
    return rollouts


def _length(rollout: AgenticRollout) -> int:
    return len(rollout.prompt_ids) + len(rollout.completion_ids)
