"""SVB1 batch frames: round trips, a frame built byte by byte from the protocol's layout, and refused frames."""

import json
import struct

import pytest
import torch

from sovereign_engine.frames import FrameError, decode_frame, encode_frame


def hand_built_frame(magic=b"SVB1", version=1):
    """A prompts frame written from docs/engine-protocol.md alone: two prompts [7, 8, 9] and [-1, 2**31 - 1]."""
    offsets, tokens = [0, 3, 5], [7, 8, 9, -1, 2**31 - 1]
    header_len = 400  # padded with spaces below, so the arrays start at a fixed, 4-byte aligned offset
    data_start = 8 + header_len
    header = {
        "version": version, "run": "r1", "step": 4, "rank": 0, "world": 1, "role": "prompts", "rows": 2,
        "prompts": [{"id": "a", "index": 0}, {"id": "b", "index": 1}],
        "arrays": [
            {"name": "prompt_offsets", "dtype": "int32", "shape": [3], "offset": data_start, "length": 12},
            {"name": "prompt_tokens", "dtype": "int32", "shape": [5], "offset": data_start + 12, "length": 20},
        ],
    }
    blob = json.dumps(header).encode()
    assert len(blob) <= header_len
    blob += b" " * (header_len - len(blob))
    return magic + struct.pack("<I", header_len) + blob + struct.pack("<3i", *offsets) + struct.pack("<5i", *tokens)


def test_hand_built_frame_decodes():
    frame = decode_frame(hand_built_frame())
    assert frame.header["step"] == 4 and frame.header["role"] == "prompts"
    assert frame["prompt_offsets"].dtype == torch.int32
    assert frame["prompt_offsets"].tolist() == [0, 3, 5]
    assert frame.prompts() == [[7, 8, 9], [-1, 2**31 - 1]]
    assert frame.prompt_ids() == ["a", "b"]
    assert frame.prompt_positions() == [0, 1]


def test_prompt_positions_count_the_ranks_before_this_one():
    """Rank r of w holds the r-th of w equal parts of the step's prompts: its prompt i is the step's r x n + i."""
    offsets, tokens = torch.tensor([0, 1, 3, 4]), torch.tensor([5, 6, 7, 8])
    frame = decode_frame(encode_frame({"role": "prompts", "rank": 2, "world": 4},
                                      {"prompt_offsets": offsets, "prompt_tokens": tokens}))
    assert frame.prompt_positions() == [6, 7, 8]


def test_completions_are_the_prompts_dataset_responses_when_the_frame_has_them():
    prompts = {"prompt_offsets": torch.tensor([0, 1, 3]), "prompt_tokens": torch.tensor([5, 6, 7])}
    frame = decode_frame(encode_frame({"role": "prompts"}, {
        **prompts, "completion_offsets": torch.tensor([0, 2, 2]), "completion_tokens": torch.tensor([8, 9])}))
    assert frame.completions() == [[8, 9], []]
    assert decode_frame(encode_frame({"role": "prompts"}, prompts)).completions() is None
    uneven = decode_frame(encode_frame({"role": "prompts"}, {
        **prompts, "completion_offsets": torch.tensor([0, 2]), "completion_tokens": torch.tensor([8, 9])}))
    with pytest.raises(FrameError, match="1 completions for 2 prompts"):
        uneven.completions()


def test_round_trip_of_encoded_arrays():
    g = torch.Generator().manual_seed(0)
    arrays = {
        "input_ids": torch.randint(-(2**31), 2**31 - 1, (3, 7), generator=g, dtype=torch.int64),
        "labels": torch.full((3, 7), -100),
        "position_ids": torch.arange(7).repeat(3, 1),
        "empty": torch.zeros(0, 4, dtype=torch.int32),
    }
    data = encode_frame({"step": 12, "role": "train", "rows": 3, "seqLen": 7}, arrays)
    assert data[:4] == b"SVB1"
    frame = decode_frame(data)
    assert frame.header["version"] == 1 and frame.header["seqLen"] == 7
    for name, t in arrays.items():
        assert frame[name].dtype == torch.int32 and torch.equal(frame[name], t.to(torch.int32)), name
    for spec in frame.header["arrays"]:
        assert spec["offset"] % 4 == 0 and spec["length"] == 4 * frame[spec["name"]].numel()
    frame["input_ids"][0, 0] = 1  # arrays are copies, writable
    with pytest.raises(FrameError, match="no array 'missing'"):
        frame["missing"]


def test_wrong_magic_names_both():
    with pytest.raises(FrameError, match=r"magic b'SVB2' is not b'SVB1'"):
        decode_frame(hand_built_frame(magic=b"SVB2"))


def test_wrong_version_names_both():
    with pytest.raises(FrameError, match="version 2 is not supported; this reader knows version 1"):
        decode_frame(hand_built_frame(version=2))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d[:6], "shorter than"),
        (lambda d: d[:-4], "does not fit"),  # the last array runs past the end
        (lambda d: d[:8] + d[8:].replace(b'"int32"', b'"int64"', 1), "only 'int32'"),
        (lambda d: d[:8] + b"\xff" + d[9:], "not UTF-8 JSON"),
    ],
)
def test_malformed_frames_are_refused(mutate, message):
    with pytest.raises(FrameError, match=message):
        decode_frame(mutate(hand_built_frame()))


def test_misaligned_array_is_refused():
    data = bytearray(hand_built_frame())
    header_len = struct.unpack_from("<I", data, 4)[0]
    header = json.loads(data[8 : 8 + header_len])
    header["arrays"][0]["offset"] += 2
    blob = json.dumps(header).encode().ljust(header_len)
    data[8 : 8 + header_len] = blob
    with pytest.raises(FrameError, match="does not fit"):
        decode_frame(bytes(data))
