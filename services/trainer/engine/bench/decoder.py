"""The project's Qwen3 decoder against transformers' Qwen3ForCausalLM: one forward+backward of packed rows on CPU.

    python bench/decoder.py                          # the tiny config, 4 rows of 1024 tokens, 4 documents a row
    python bench/decoder.py --rows 2 --seq 512 --repeats 5 --threads 2
    python bench/decoder.py --no-head               # the decoders alone: the loss is the hidden states' sum

Both models hold the same weights (ours saved, loaded by transformers) and compute in fp32; each step is the
final-norm hidden states of the packed rows (position ids restarting per document) into the same chunked
cross-entropy kernel, then backward. Ours builds a dense [rows, 1, T, T] boolean mask from the position ids;
transformers detects the documents from the position ids itself (sdpa: a block-diagonal mask). The two run
alternately in one process, so load on the machine falls on both; the figure is the median over repeats of the
ratio of the two back-to-back steps (and the ratio of the fastest steps, which load disturbs least).
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sovereign_engine.checkpoint import save_checkpoint  # noqa: E402
from sovereign_engine.kernels import linear_cross_entropy  # noqa: E402
from sovereign_engine.model import TINY_CONFIGS, Qwen3ForCausalLM  # noqa: E402


def packed(rows: int, seq: int, docs: int, vocab: int, g: torch.Generator):
    ids = torch.randint(0, vocab, (rows, seq), generator=g)
    bounds = [i * seq // docs for i in range(docs)] + [seq]
    positions = torch.cat([torch.arange(b - a) for a, b in zip(bounds, bounds[1:])]).expand(rows, seq)
    labels = torch.cat((ids[:, 1:], torch.full((rows, 1), -100)), 1)
    labels[:, [b - 1 for b in bounds[1:]]] = -100  # each document's last token predicts nothing
    return ids, positions.contiguous(), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="tiny", choices=sorted(TINY_CONFIGS))
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--docs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--attention", default="sdpa", help="transformers' attn_implementation")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--no-head", action="store_true", help="backward from the hidden states' sum, no LM head")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import transformers

    ours = Qwen3ForCausalLM(TINY_CONFIGS[args.config], seed=0).train()
    with tempfile.TemporaryDirectory() as d:
        save_checkpoint(ours, d)
        theirs = transformers.AutoModelForCausalLM.from_pretrained(
            d, dtype=torch.float32, attn_implementation=args.attention
        ).train()
    ids, positions, labels = packed(args.rows, args.seq, args.docs, ours.config.vocab_size, torch.Generator().manual_seed(0))

    def loss(hidden, weight):
        if args.no_head:
            return hidden.sum()
        return linear_cross_entropy(hidden.flatten(0, 1), weight, labels.flatten())

    def step_ours():
        loss(ours(ids, positions), ours.lm_head_weight()).backward()

    def step_theirs():
        hidden = theirs.model(input_ids=ids, position_ids=positions, use_cache=False).last_hidden_state
        loss(hidden, theirs.get_output_embeddings().weight).backward()

    steps = {"ours": step_ours, "transformers": step_theirs}
    times = {name: [] for name in steps}
    for repeat in range(args.repeats + 2):  # the first two of each are warmup
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            if repeat >= 2:
                times[name].append(time.perf_counter() - started)
    ratios = [a / b for a, b in zip(times["ours"], times["transformers"])]
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} threads")
    print(f"{args.config}: {args.rows} rows x {args.seq} tokens, {args.docs} documents a row, {args.repeats} repeats"
          f"{', no LM head' if args.no_head else ''}, transformers attention {args.attention}")
    for name, t in times.items():
        print(f"  {name:13s} median {statistics.median(t) * 1e3:8.1f} ms  (min {min(t) * 1e3:.1f}, max {max(t) * 1e3:.1f})")
    print(f"  ours / transformers time: median of paired ratios {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f}), ratio of minima {min(times['ours']) / min(times['transformers']):.3f}")


if __name__ == "__main__":
    main()
