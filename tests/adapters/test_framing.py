"""Serial codecs: CRC-16, binary frames, text lines, sequence gaps — unit and fuzz tests."""

from __future__ import annotations

import binascii
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_adapters.framing import (
    HEADER_SIZE,
    SYNC,
    Frame,
    FrameDecoder,
    FrameEncoder,
    LineDecoder,
    SequenceTracker,
    crc16_ccitt_false,
    encode_frame,
    format_csv_line,
    format_json_line,
)

#: Streams per fuzz test: 3 000 in the suite (~10 s each here); set TEACHFAB_FUZZ_EXAMPLES for a longer run.
FUZZ_EXAMPLES = int(os.environ.get("TEACHFAB_FUZZ_EXAMPLES", "3000"))
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


# ------------------------------------------------------------------ CRC


def test_crc_matches_the_catalogue_check_value():
    # CRC-16/CCITT-FALSE ("CRC-16/IBM-3740"): check=0x29b1 for ASCII "123456789"
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc16_ccitt_false(b"") == 0xFFFF
    # continuing over pieces equals one pass
    assert crc16_ccitt_false(b"6789", crc16_ccitt_false(b"12345")) == 0x29B1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_table_crc_equals_the_c_implementation_used_by_the_decoder(data):
    assert crc16_ccitt_false(data) == binascii.crc_hqx(data, 0xFFFF)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.data())
def test_crc_detects_every_single_byte_error(data, draw):
    i = draw.draw(st.integers(0, len(data) - 1))
    flip = draw.draw(st.integers(1, 255))
    bad = bytearray(data)
    bad[i] ^= flip
    assert crc16_ccitt_false(bytes(bad)) != crc16_ccitt_false(data)


# ------------------------------------------------------------------ frames


def _frame(seq=0, n=8, channels=1, rate=12000.0, seed=0) -> Frame:
    return _random_frame(np.random.default_rng(seed), seq, n, channels, rate)


def _random_frame(rng: np.random.Generator, seq: int, n: int, channels: int, rate: float = 12000.0) -> Frame:
    counts = rng.integers(-32768, 32768, (channels, n)).astype(np.int16)
    scales = rng.uniform(1e-4, 1.0, channels).astype(np.float32).astype(np.float64)
    return Frame(seq, rate, scales, counts)


def test_frame_layout_is_the_documented_one():
    counts = np.array([[1, 2], [-1, 300]], dtype=np.int16)
    data = encode_frame(0x1234, 1000.0, [0.5, 0.25], counts)
    assert len(data) == 14 + 4 * 2 + 2 * 2 * 2 + 2
    assert data[:2] == b"\xa5\x5a" and data[2] == 1 and data[3] == 1
    assert data[4:6] == b"\x34\x12"  # little-endian sequence number
    assert data[6] == 2 and data[7] == 0 and data[8:10] == b"\x02\x00"
    assert struct.unpack("<f", data[10:14])[0] == 1000.0
    assert struct.unpack("<2f", data[14:22]) == (0.5, 0.25)
    assert struct.unpack("<4h", data[22:30]) == (1, -1, 2, 300)  # interleaved by sample
    assert struct.unpack("<H", data[30:])[0] == crc16_ccitt_false(data[:30])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 65535), st.integers(1, 5), st.integers(1, 300), st.integers(0, 2**32 - 1),
       st.sampled_from([1.0, 100.0, 12000.0, 51200.0, 25600.5]))
def test_frame_round_trip(seq, channels, n, seed, rate):
    f = _frame(seq, n, channels, rate, seed)
    [g] = FrameDecoder().feed(f.encode())
    assert (g.seq, g.rate, g.offset, g.missing_before) == (seq, rate, 0, 0)
    np.testing.assert_array_equal(g.counts, f.counts)
    np.testing.assert_array_equal(g.scales, f.scales)
    np.testing.assert_array_equal(g.values(), f.counts * f.scales[:, None])


def test_encoder_quantises_within_half_a_count_and_clips():
    enc = FrameEncoder(12000.0, [16.0, 200.0])
    x = np.vstack([np.linspace(-15.9, 15.9, 101), np.linspace(-100.0, 100.0, 101)])
    [f] = FrameDecoder().feed(enc.encode(x))
    assert np.all(np.abs(f.values() - x) <= f.scales[:, None] / 2 * (1 + 1e-9))
    assert enc.clipped == 0 and enc.seq == 1
    enc.encode(np.array([[17.0, np.nan], [0.0, 0.0]]))
    assert enc.clipped == 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(counts=np.zeros((1, 3), dtype=np.int32)), "int16"),
    (dict(counts=np.zeros((0, 3), dtype=np.int16)), "1..255 channels"),
    (dict(scales=[0.0]), "finite positive"),
    (dict(rate=float("nan")), "rate must be"),
])
def test_encode_frame_refuses_bad_input_with_a_clear_message(kwargs, message):
    args = dict(seq=0, rate=100.0, scales=[1.0], counts=np.zeros((1, 3), dtype=np.int16)) | kwargs
    with pytest.raises(ValueError, match=message):
        encode_frame(**args)


def test_each_rejection_reason_is_counted_and_the_stream_goes_on():
    good = [_frame(seq=s, seed=s).encode() for s in range(8)]
    bad_version = bytearray(good[1])
    bad_version[2] = 2
    too_many = bytearray(good[2])
    too_many[8:10] = (5000).to_bytes(2, "little")
    bad_crc = bytearray(good[3])
    bad_crc[-3] ^= 0x40
    nan_rate = bytearray(good[4])
    nan_rate[10:14] = struct.pack("<f", float("nan"))
    nan_rate[-2:] = crc16_ccitt_false(bytes(nan_rate[:-2])).to_bytes(2, "little")  # authentic but unusable
    stream = (b"boot msg" + good[0] + bytes(bad_version) + bytes(too_many) + bytes(bad_crc) + bytes(nan_rate)
              + good[5] + good[6] + good[7][:20])
    dec = FrameDecoder()
    frames = dec.feed(stream) + dec.flush()
    assert [f.seq for f in frames] == [0, 5, 6]
    assert frames[1].missing_before == 4  # 1, 2, 3 never decoded; 4 was read but unusable
    stats = dec.stats()
    assert {k: v for k, v in stats.items() if k.startswith("rejected_")} == {
        "rejected_garbage": 1, "rejected_bad_header": 1, "rejected_bad_length": 1,
        "rejected_bad_crc": 1, "rejected_bad_value": 1, "rejected_truncated": 1}
    assert stats["rejected"] == 6 and stats["frames"] == 3 and stats["gaps"] == 1 and stats["missing"] == 4


def test_a_frame_hidden_behind_a_corrupted_length_is_recovered():
    a, b = _frame(seq=1, n=4).encode(), _frame(seq=2, n=4).encode()
    bad = bytearray(_frame(seq=0, n=4).encode())
    bad[8] = 200  # claims 200 samples: the next frame lies inside the claimed body
    dec = FrameDecoder()
    frames = dec.feed(bytes(bad) + a + b + bytes(400)) + dec.flush()
    assert [f.seq for f in frames] == [1, 2]
    assert dec.stats()["rejected_bad_crc"] == 1


def test_sequence_tracker_handles_wrap_gaps_and_restarts():
    t = SequenceTracker(65536, max_gap=100)
    assert [t.update(s) for s in (65533, 65534, 1, 2)] == [0, 0, 2, 0]  # 65535 and 0 lost across the wrap
    assert t.update(40000) == 0 and t.resets == 1  # a jump beyond max_gap is a restart, not loss
    assert t.update(40000) == 0 and t.resets == 2  # a repeat is not counted as loss either
    assert (t.gaps, t.missing) == (1, 2)
    with pytest.raises(ValueError, match="max_gap"):
        SequenceTracker(256, max_gap=256)


# ------------------------------------------------------------------ frame fuzz

# sync words and a plausible header claiming a long body, to lure the decoder
_HEADERISH = [SYNC, SYNC + b"\x01\x01", struct.pack("<2sBBHBBHf", SYNC, 1, 1, 9, 1, 0, 4096, 1.0)]


_KINDS = ["valid", "valid", "valid", "garbage", "corrupt", "truncate"]


def _garbage(rng: np.random.Generator) -> bytes:
    parts = [rng.integers(0, 256, rng.integers(0, 13), dtype=np.uint8).tobytes() if rng.random() < 0.7
             else _HEADERISH[rng.integers(len(_HEADERISH))] for _ in range(rng.integers(0, 5))]
    return b"".join(parts)


@st.composite
def _frame_streams(draw):
    """Segments of valid, corrupted and truncated frames and garbage; frames numbered in order.

    Hypothesis draws the plan (segment kinds, seeds); the bytes come from a
    seeded generator, which keeps 10^4 segments within a few seconds.
    """
    kinds = draw(st.lists(st.sampled_from(_KINDS), min_size=6, max_size=20))
    rng = np.random.default_rng(draw(st.integers(0, 2**64 - 1)))
    seq = int(rng.integers(0, 65536))
    segments = []
    for kind in kinds:
        if kind == "garbage":
            segments.append(("garbage", _garbage(rng)))
            continue
        f = _random_frame(rng, seq, int(rng.integers(1, 24)), int(rng.integers(1, 4)))
        if rng.random() < 0.3:  # payloads that contain the sync word
            f.counts.flat[rng.integers(0, f.counts.size)] = 0x5AA5
        data = f.encode()
        seq = (seq + 1) % 65536
        if kind == "corrupt":
            i = int(rng.integers(2, len(data)))
            body = bytearray(data)
            body[i] ^= int(rng.integers(1, 256))
            segments.append(("corrupt_payload" if i >= HEADER_SIZE else "corrupt_header", bytes(body)))
        elif kind == "truncate":
            segments.append(("truncate", data[:int(rng.integers(1, len(data)))]))
        else:
            segments.append(("valid", data))
    stream = b"".join(d for _, d in segments)
    cuts = sorted(int(c) for c in rng.integers(0, len(stream) + 1, rng.integers(0, 7)))
    return segments, stream, cuts


def _decode(stream: bytes, cuts=()) -> tuple[list[Frame], dict]:
    dec, frames, last = FrameDecoder(), [], 0
    for c in [*cuts, len(stream)]:
        frames += dec.feed(stream[last:c])
        last = c
    return frames + dec.flush(), dec.stats()


@pytest.mark.slow
def test_frame_decoder_fuzz_recovers_every_valid_frame():
    """:data:`FUZZ_EXAMPLES` generated streams (each many frames and garbage runs) through the decoder.

    Properties: nothing raises; the result does not depend on chunking;
    every decoded frame is byte-exact at its offset; every valid frame is
    recovered unless an overlapping span happened to pass the CRC (a
    2^-16 event per candidate, allowed and checked to be byte-exact); a
    frame with a corrupted byte after its header is never accepted and
    counts as ``bad_crc``; each run of bad bytes counts at least one
    rejection; the frames lost between recovered ones equal the sequence
    gap the decoder reports.
    """
    seen = {"segments": 0, "valid": 0, "extra": 0}

    @FUZZ
    @given(_frame_streams())
    def check(example):
        segments, stream, cuts = example
        frames, stats = _decode(stream)
        frames_c, stats_c = _decode(stream, cuts)
        assert stats_c == stats
        assert [(f.offset, f.seq) for f in frames_c] == [(f.offset, f.seq) for f in frames]
        offsets, pos = [], 0
        for kind, data in segments:
            offsets.append(pos)
            pos += len(data)
        got = {}
        for f in frames:
            enc = f.encode()
            assert stream[f.offset:f.offset + len(enc)] == enc
            got[f.offset] = len(enc)
        valid = {o: len(d) for o, (k, d) in zip(offsets, segments) if k == "valid"}
        extra = {o: n for o, n in got.items() if o not in valid}
        for o, n in valid.items():
            overlapped = any(e < o + n and o < e + m for e, m in extra.items())
            assert o in got or overlapped, f"valid frame at {o} lost"
        for o, (kind, _) in zip(offsets, segments):
            if kind == "corrupt_payload":
                assert o not in got
        seen["segments"] += len(segments)
        seen["valid"] += len(valid)
        seen["extra"] += len(extra)
        if extra:
            return
        assert stats["frames"] == len(valid)
        assert stats.get("rejected_bad_crc", 0) >= sum(k == "corrupt_payload" for k, _ in segments)
        kinds = [k for k, d in segments if d]
        runs = sum(1 for i, k in enumerate(kinds) if k != "valid" and (i == 0 or kinds[i - 1] == "valid"))
        assert stats["rejected"] >= runs
        frame_kinds = [k for k, _ in segments if k != "garbage"]
        if "valid" in frame_kinds:
            first = frame_kinds.index("valid")
            last = len(frame_kinds) - 1 - frame_kinds[::-1].index("valid")
            assert stats["missing"] == sum(k != "valid" for k in frame_kinds[first:last])
            assert sum(f.missing_before for f in frames) == stats["missing"]

    check()
    assert seen["segments"] >= 10_000 and seen["valid"] >= 4_000
    assert seen["extra"] <= seen["segments"] / 1000  # chance CRC matches stay rare


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=8))
def test_frame_decoder_survives_any_bytes(data, cuts):
    frames, stats = _decode(data, sorted(c for c in cuts if c <= len(data)))
    assert _decode(data)[1] == stats
    assert stats["skipped_bytes"] + sum(len(f.encode()) for f in frames) <= len(data)


# ------------------------------------------------------------------ lines


def test_csv_lines_reasons_and_header():
    dec = LineDecoder("csv", fields=["ax", "t"], columns=["seq", "ax", "t"], seq_field="seq", max_line=40)
    text = (b"seq,ax,t\r\n0,0.5,21.0\r\n1,0.6\n2,abc,21\n\n3,nan,21\n4,0.7,\xff\n"
            + b"9" * 60 + b"\n5,0.8,21.5\n7,0.9,21.5\n8,1e999,1\n")
    lines = dec.feed(text)
    assert [ln.values for ln in lines] == [{"ax": 0.5, "t": 21.0, "seq": 0.0}, {"ax": 0.8, "t": 21.5, "seq": 5.0},
                                          {"ax": 0.9, "t": 21.5, "seq": 7.0}]
    assert [ln.missing_before for ln in lines] == [0, 4, 1]
    stats = dec.stats()
    assert stats["header_lines"] == 1 and stats["lines"] == 3
    assert {k: v for k, v in stats.items() if k.startswith("rejected_")} == {
        "rejected_bad_fields": 1, "rejected_bad_value": 3, "rejected_bad_encoding": 1, "rejected_too_long": 1}
    assert stats["rejected"] == 6


def test_json_lines_reasons_and_nested_fields():
    dec = LineDecoder("json", fields=["accel.x", "temp"])
    text = (b'{"accel": {"x": 0.25}, "temp": 30}\n{"accel": {"x": true}, "temp": 30}\n[1, 2]\n{"temp": 3}\n'
            b'{"accel": {"x": 1}, "temp": NaN}\n{"accel": {"x": 1}, "temp": 1' + b"0" * 400 + b"}\n"
            b'{"accel": {"x": 1}, "temp": "2"}\n{oops\n' + b"[" * 1000 + b"\n"
            b'{"accel": {"x": -1.5e-3}, "temp": 31.5, "extra": "ignored"}\n')
    lines = dec.feed(text)
    assert [ln.values for ln in lines] == [{"accel.x": 0.25, "temp": 30.0}, {"accel.x": -1.5e-3, "temp": 31.5}]
    rejected = {k: v for k, v in dec.stats().items() if k.startswith("rejected_")}
    assert rejected == {"rejected_bad_value": 4, "rejected_bad_json": 3, "rejected_missing_field": 1}


def test_partial_first_line_and_truncated_last_line():
    dec = LineDecoder("csv", fields=["a"], columns=["a"])
    dec.discard_partial()
    assert dec.feed(b"23\n4") == [] and [ln.values for ln in dec.feed(b"5\n")] == [{"a": 45.0}]
    dec.feed(b"46")
    dec.flush()
    assert dec.stats()["rejected_partial"] == 1 and dec.stats()["rejected_truncated"] == 1


def test_line_decoder_refuses_unknown_columns():
    with pytest.raises(ValueError, match=r"csv fields \['t'\] are not among columns \['a'\]"):
        LineDecoder("csv", fields=["t"], columns=["a"])
    with pytest.raises(ValueError, match="format must be"):
        LineDecoder("xml", fields=["t"])


_FIELDS = ["a", "b", "c"]
_number = st.floats(allow_nan=False, allow_infinity=False, width=64)


_LINE_KINDS = ["valid", "valid", "valid", "garbage", "corrupt", "long", "blank"]


@st.composite
def _line_streams(draw):
    """Segments of valid, corrupted, too long, garbage and blank lines, in CSV or JSON.

    Hypothesis draws the format, the plan and a pool of numbers; noise bytes
    and ordinary numbers come from a seeded generator.
    """
    fmt = draw(st.sampled_from(["csv", "json"]))
    kinds = draw(st.lists(st.sampled_from(_LINE_KINDS), min_size=8, max_size=24))
    pool = draw(st.lists(_number, min_size=1, max_size=6))  # hypothesis' awkward floats...
    rng = np.random.default_rng(draw(st.integers(0, 2**64 - 1)))
    numbers = [pool[rng.integers(len(pool))] if rng.random() < 0.5  # ...mixed with ordinary ones
               else float(rng.standard_normal() * 10.0 ** rng.integers(-8, 9)) for _ in range(3 * len(kinds))]
    segments = []
    for k, kind in enumerate(kinds):
        end = b"\r\n" if rng.random() < 0.3 else b"\n"
        if kind in ("garbage", "long"):
            n = int(rng.integers(0, 61)) if kind == "garbage" else int(rng.integers(122, 300))
            noise = rng.integers(0, 256, n, dtype=np.uint8).tobytes().replace(b"\n", b"_")
            segments.append((kind, noise + end))
            continue
        if kind == "blank":
            segments.append((kind, [b"", b" ", b"\t"][rng.integers(3)] + end))
            continue
        record = dict(zip(_FIELDS, numbers[3 * k:3 * k + 3]))
        line = (",".join(repr(v) for v in record.values()) if fmt == "csv" else
                "{" + ", ".join(f'"{name}": {v!r}' for name, v in record.items()) + "}").encode()
        if kind == "corrupt":
            body = bytearray(line)
            body[int(rng.integers(0, len(body)))] = ord("#")
            line = bytes(body)
        segments.append((kind, line + end, record) if kind == "valid" else (kind, line + end))
    stream = b"".join(seg[1] for seg in segments)
    cuts = sorted(int(c) for c in rng.integers(0, len(stream) + 1, rng.integers(0, 7)))
    return fmt, segments, stream, cuts


def _lines(fmt, stream, cuts=()):
    dec, out, last = LineDecoder(fmt, _FIELDS, max_line=120), [], 0
    for c in [*cuts, len(stream)]:
        out += dec.feed(stream[last:c])
        last = c
    dec.flush()
    return [ln.values for ln in out], dec.stats()


@pytest.mark.slow
def test_line_decoder_fuzz_recovers_every_valid_line():
    """:data:`FUZZ_EXAMPLES` generated streams of lines (valid, '#'-corrupted, too long, garbage, blank).

    Properties: nothing raises; chunking changes nothing; decoding the
    stream equals decoding each line on its own (a bad line never spoils
    its neighbour); every valid line comes back with exactly its values;
    every corrupted or too long line is rejected and counted.
    """
    seen = {"lines": 0}

    @FUZZ
    @given(_line_streams())
    def check(example):
        fmt, segments, stream, cuts = example
        values, stats = _lines(fmt, stream)
        assert _lines(fmt, stream, cuts) == (values, stats)
        expected, rejected = [], 0
        for seg in segments:
            v, s = _lines(fmt, seg[1])
            expected += v
            rejected += s["rejected"]
            if seg[0] == "valid":
                assert v == [seg[2]]
            elif seg[0] in ("corrupt", "long"):
                assert v == [] and s["rejected"] == 1
            if seg[0] == "long":
                assert s["rejected_too_long"] == 1
        assert values == expected
        assert stats["rejected"] == rejected
        seen["lines"] += len(segments)

    check()
    assert seen["lines"] >= 10_000


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["csv", "json"]), st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=8))
def test_line_decoder_survives_any_bytes(fmt, data, cuts):
    assert _lines(fmt, data, sorted(c for c in cuts if c <= len(data))) == _lines(fmt, data)


def test_text_formatters_round_trip_through_the_decoder():
    dec = LineDecoder("json", ["x"])
    assert dec.feed(format_json_line({"x": 1 / 3}, digits=17))[0].values["x"] == 1 / 3
    dec = LineDecoder("csv", ["x", "y"])
    assert dec.feed(format_csv_line([2.5, -1e-9]))[0].values == {"x": 2.5, "y": -1e-9}
