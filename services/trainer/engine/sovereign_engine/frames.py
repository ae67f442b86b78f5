"""SVB1 batch frames (docs/engine-protocol.md): a JSON header and little-endian int32 arrays, decoded to torch.

    offset 0    4 bytes   magic "SVB1"
    offset 4    uint32 LE header length H
    offset 8    H bytes   JSON header, UTF-8: {"version": 1, ..., "arrays": [{"name", "dtype", "shape",
                          "offset", "length"}]}, offsets from the start of the frame, lengths in bytes
    offset 8+H  the arrays, each starting at a multiple of 4 bytes from offset 0
"""

import json
import math
import struct
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

import torch

MAGIC = b"SVB1"
VERSION = 1

if sys.byteorder != "little":
    raise ImportError("SVB1 frames hold little-endian int32; this reader assumes a little-endian machine")


class FrameError(ValueError):
    pass


@dataclass
class Frame:
    """One rank's batch for one step: the frame header and its arrays by name (int32 tensors)."""

    header: Dict[str, Any] = field(default_factory=dict)
    arrays: Dict[str, torch.Tensor] = field(default_factory=dict)

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self.arrays:
            raise FrameError(f"frame has no array {name!r} (it has {sorted(self.arrays)})")
        return self.arrays[name]

    def prompts(self) -> List[List[int]]:
        """The ragged prompts of a `prompts` frame, from prompt_offsets [n + 1] and prompt_tokens [total]."""
        offsets, tokens = self["prompt_offsets"].tolist(), self["prompt_tokens"].tolist()
        return [tokens[a:b] for a, b in zip(offsets[:-1], offsets[1:])]

    def completions(self) -> Optional[List[List[int]]]:
        """The dataset response of each prompt of a `prompts` frame, from completion_offsets [n + 1] and
        completion_tokens [total]; None when the frame has none (RL prompts)."""
        if "completion_offsets" not in self.arrays:
            return None
        offsets, tokens = self["completion_offsets"].tolist(), self["completion_tokens"].tolist()
        if len(offsets) != self["prompt_offsets"].numel():
            raise FrameError(f"frame has {len(offsets) - 1} completions for {self['prompt_offsets'].numel() - 1} "
                             "prompts")
        return [tokens[a:b] for a, b in zip(offsets[:-1], offsets[1:])]

    def prompt_ids(self) -> List[str]:
        """The prompt ids from the header's `prompts: [{"id", "index"}]`, in prompt order; else "0", "1", ..."""
        n = self["prompt_offsets"].numel() - 1
        ids = [str(i) for i in range(n)]
        for entry in self.header.get("prompts", []):
            ids[int(entry["index"])] = str(entry["id"])
        return ids

    def prompt_positions(self) -> List[int]:
        """Each prompt's position among the step's prompts over all ranks: rank r of w holds the r-th of w equal
        consecutive parts (the header's `rank`, default 0), so a prompt's position is r x the frame's prompt
        count + its index in the frame. Sampling seeds come from it, so a prompt draws the same completion on
        any number of ranks."""
        n = self["prompt_offsets"].numel() - 1
        first = int(self.header.get("rank", 0)) * n
        return [first + i for i in range(n)]


def decode_frame(data: bytes) -> Frame:
    """Parses and checks a frame; every array is copied out of `data` into its own int32 tensor."""
    view = memoryview(data)
    if len(view) < 8:
        raise FrameError(f"frame of {len(view)} bytes is shorter than its 8-byte preamble")
    magic = bytes(view[:4])
    if magic != MAGIC:
        raise FrameError(f"frame magic {magic!r} is not {MAGIC!r}: not an SVB1 frame")
    (header_len,) = struct.unpack_from("<I", view, 4)
    if 8 + header_len > len(view):
        raise FrameError(f"frame header length {header_len} exceeds the {len(view)}-byte frame")
    try:
        header = json.loads(bytes(view[8 : 8 + header_len]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise FrameError(f"frame header is not UTF-8 JSON ({e})") from None
    if not isinstance(header, dict):
        raise FrameError("frame header is not a JSON object")
    if header.get("version") != VERSION:
        raise FrameError(
            f"frame version {header.get('version')!r} is not supported; this reader knows version {VERSION}"
        )
    arrays = {}
    for spec in header.get("arrays", []):
        try:
            name, dtype, shape = spec["name"], spec["dtype"], [int(n) for n in spec["shape"]]
            offset, length = int(spec["offset"]), int(spec["length"])
        except (KeyError, TypeError, ValueError):
            raise FrameError(f"frame array entry {spec!r} is malformed") from None
        if dtype != "int32":
            raise FrameError(f"frame array {name!r} has dtype {dtype!r}; only 'int32' is defined")
        if length != 4 * math.prod(shape) or offset % 4 or offset < 8 + header_len or offset + length > len(view):
            raise FrameError(
                f"frame array {name!r}: shape {shape} at offset {offset} with length {length} does not fit "
                f"a {len(view)}-byte frame with its arrays 4-byte aligned after the header"
            )
        if length == 0:
            arrays[name] = torch.empty(shape, dtype=torch.int32)
        else:
            arrays[name] = torch.frombuffer(bytearray(view[offset : offset + length]), dtype=torch.int32).view(shape)
    return Frame(header, arrays)


def encode_frame(header: Mapping[str, Any], arrays: Mapping[str, torch.Tensor]) -> bytes:
    """A version-1 frame of the given header fields and arrays (cast to int32), as the service writes them."""
    tensors = {name: t.detach().to("cpu", torch.int32).contiguous() for name, t in arrays.items()}
    specs = [
        {"name": name, "dtype": "int32", "shape": list(t.shape), "length": 4 * t.numel()} for name, t in tensors.items()
    ]
    # Array offsets depend on the header's length, which depends on the offsets: iterate until they agree.
    start = None
    while True:
        offset = start or 0
        for spec in specs:
            spec["offset"] = offset
            offset += spec["length"]
        blob = json.dumps({**header, "version": VERSION, "arrays": specs}, separators=(",", ":")).encode()
        data_start = 8 + len(blob) + (-(8 + len(blob)) % 4)
        if data_start == start:
            break
        start = data_start
    out = bytearray(MAGIC + struct.pack("<I", len(blob)) + blob)
    out += bytes(start - len(out))
    for t in tensors.values():
        data = bytearray(4 * t.numel())
        if t.numel():
            torch.frombuffer(data, dtype=torch.int32).copy_(t.reshape(-1))
        out += data
    return bytes(out)
