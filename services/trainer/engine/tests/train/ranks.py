"""One rank of a test run in a process of its own, as torchrun starts engine ranks: `python ranks.py <spec.json>
<rank> <world>` with MASTER_ADDR and MASTER_PORT in the environment trains (gloo, on the CPU) with the toy data,
rewards and sink of toys.py, writes what the rank saw to <spec's out>/rank-<rank>.json and exits with the run's
status.

The spec: {"config": the run config as GET /config gives it, "data": ToyData's arguments, "uneven": bool,
"target": the rewarded token, "stop_at": the step whose metrics the service answers with a stop (rank 0),
"sigterm": [rank, step]: that rank signals itself SIGTERM when it fetches that step's batch, "out": folder}.
"""

import json
import os
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]

import torch  # noqa: E402

from sovereign_engine.algorithms import RunConfig  # noqa: E402
from sovereign_engine.train import run  # noqa: E402
from toys import RankData, RecordingSink, TargetTokenReward, ToyData  # noqa: E402


def main(spec_path: str, rank: int, world: int) -> int:
    spec = json.loads(Path(spec_path).read_text())
    torch.set_num_threads(1)  # the ranks share the machine's cores
    data = RankData(ToyData(**spec["data"]), rank, world, uneven=spec.get("uneven", False))
    if spec.get("sigterm") and spec["sigterm"][0] == rank:
        at = spec["sigterm"][1]
        data.on_request = lambda step, role: os.kill(os.getpid(), signal.SIGTERM) if step == at else None
    sink = RecordingSink(stop_at=spec.get("stop_at"))
    rewards = TargetTokenReward(spec.get("target", 5))
    code = run(RunConfig.from_dict(spec["config"]), data, rewards, sink, rank=rank, world=world)
    result = {
        "code": code,
        "metrics": {str(step): m for step, m in sink.metric_log.items()},
        "checkpoints": [[step, path, files] for step, path, files in sink.checkpoints],
        "statuses": sink.statuses,
        "rollouts": [[[r.prompt, r.prompt_ids, r.completion_ids] for r in call] for call in rewards.calls],
    }
    Path(spec["out"], f"rank-{rank}.json").write_text(json.dumps(result))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
