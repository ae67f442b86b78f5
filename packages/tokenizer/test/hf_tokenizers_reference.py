"""Encodes texts with the Hugging Face `tokenizers` library (the Rust implementation transformers uses), as the
reference for the TypeScript BPE. Argument: a tokenizer.json path. Reads a JSON list of texts on stdin, writes
a JSON list of id lists (no special tokens added)."""
import json
import sys

from tokenizers import Tokenizer

tokenizer = Tokenizer.from_file(sys.argv[1])
texts = json.load(sys.stdin)
json.dump([tokenizer.encode(t, add_special_tokens=False).ids for t in texts], sys.stdout)
