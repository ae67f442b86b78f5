"""Exports a checkpoint (a run's step-k folder, or any HF folder) as a folder a server loads.

    python -m sovereign_engine.export --checkpoint <step dir or HF folder> --out <dir> [--dtype bfloat16|float32]
        [--tokenizer <folder>] [--stop-ids 151645,151643] [--max-shard-bytes N]

The weights are read in the chosen dtype (bf16 by default, what servers run) and written as sharded safetensors
with config.json and generation_config.json (eos_token_id: --stop-ids, else the checkpoint's own eos ids, which
in a run's checkpoint are the run's stop ids); with --tokenizer, its tokenizer files (the chat template among
them) are copied beside them. The trainer state of a step folder is left behind. --out must be new or empty. The
last line on stdout is {"files": [{"name", "sha256", "bytes"}]}; errors go to stderr with exit status 1.
"""

import argparse
import json
import os
import sys

from .checkpoint import DEFAULT_MAX_SHARD_BYTES, DTYPES, file_records, load_checkpoint, save_checkpoint


def stop_id_list(text: str):
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated token ids, got {text!r}") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sovereign_engine.export", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a run's step-k folder or any HF model folder")
    parser.add_argument("--out", required=True, help="the folder to write (new or empty)")
    parser.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16")
    parser.add_argument("--tokenizer", help="a folder whose tokenizer files are copied into the export")
    parser.add_argument("--stop-ids", type=stop_id_list, help="generation_config.json's eos ids: 151645,151643")
    parser.add_argument("--max-shard-bytes", type=int, default=DEFAULT_MAX_SHARD_BYTES)
    args = parser.parse_args(argv)
    try:
        if os.path.exists(args.out) and (not os.path.isdir(args.out) or os.listdir(args.out)):
            raise ValueError(f"{args.out}: exists and is not an empty folder")
        if args.max_shard_bytes < 1:
            raise ValueError(f"--max-shard-bytes must be positive, got {args.max_shard_bytes}")
        model = load_checkpoint(args.checkpoint, "cpu", DTYPES[args.dtype], attention="sdpa")
        hashes = save_checkpoint(
            model, args.out, stop_ids=args.stop_ids, tokenizer=args.tokenizer, max_shard_bytes=args.max_shard_bytes
        )
    except (ValueError, OSError) as e:
        print(f"export failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"files": file_records(args.out, hashes)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
