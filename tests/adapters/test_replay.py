"""Replay adapter: every format, the real CWRU files, pacing, ranges, loops and errors."""

import asyncio
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat, savemat, wavfile

from firmware_adapters.recording import read_recording
from firmware_adapters.registry import build_source, get_adapter
from firmware_adapters.replay import ReplayConfig, ReplaySource

REPO = Path(__file__).parents[2]
CWRU = REPO.parent / "shared" / "data" / "cwru"
EPOCH = 1_714_550_400_000_000_000  # 2024-05-01T08:00:00Z


def collect(source, limit=None):
    """Run the source until it ends (or ``limit`` samples); return the Samples."""
    async def run():
        out = []
        async for s in source.samples():
            out.append(s)
            if limit is not None and len(out) >= limit:
                break
        return out
    return asyncio.run(run())


def replay(path, channels, **kw):
    kw.setdefault("pace", "fast")
    kw.setdefault("epoch", EPOCH)
    return ReplaySource(ReplayConfig(str(path), "m1", channels, **kw))


# ---------------------------------------------------------------- formats

def test_csv_with_header_and_time_column(tmp_path):
    fs, n = 2000.0, 500
    rng = np.random.default_rng(1)
    de, fe = rng.normal(size=n), rng.normal(size=n)
    path = tmp_path / "rec.csv"
    path.write_text("# logger export\ntime,de,fe\n" +
                    "".join(f"{i / fs!r},{float(a)!r},{float(b)!r}\n" for i, (a, b) in enumerate(zip(de, fe))))
    x, rate, meta = read_recording(path, "de", time_column="time")
    assert np.array_equal(x, de) and rate == 2000.0
    assert meta["rate_source"] == "time column time" and meta["header"] is True and meta["delimiter"] == ","
    x, _, meta = read_recording(path, 2, time_column=0)  # by index, counting the time column
    assert np.array_equal(x, fe) and meta["selected"] == "fe"
    samples = collect(replay(path, {"vibration_de": "de", "vibration_fe": "fe"}, time_column="time", block_size=200))
    assert [(s.channel, s.start_ns, s.values.size) for s in samples] == [
        ("vibration_de", EPOCH, 200), ("vibration_fe", EPOCH, 200),
        ("vibration_de", EPOCH + 100_000_000, 200), ("vibration_fe", EPOCH + 100_000_000, 200),
        ("vibration_de", EPOCH + 200_000_000, 100), ("vibration_fe", EPOCH + 200_000_000, 100)]
    assert np.array_equal(np.concatenate([s.values for s in samples if s.channel == "vibration_fe"]), fe)
    assert all(s.rate == 2000.0 and s.units == "g" for s in samples)


def test_csv_time_in_ms_with_bad_rows_counted_and_dropped(tmp_path):
    path = tmp_path / "rec.csv"
    rows = [f"{i * 0.5};{i}.25" for i in range(20)]
    rows[5] = "2.5;oops"      # non-numeric cell
    rows[9] = "4.5;1;2"       # wrong field count
    path.write_text("\n".join(rows) + "\n")
    src = replay(path, {"a": 1}, time_column=0, time_unit="ms", block_size=100)
    (s,) = collect(src)
    assert s.rate == 2000.0  # 0.5 ms steps, measured despite the two missing rows
    assert s.values.tolist() == [i + 0.25 for i in range(20) if i not in (5, 9)]
    assert src.stats() == {"samples": 18, "rejected": 2, "blocks": 1, "passes": 1,
                           "rejected_non_numeric": 1, "rejected_field_count": 1}


def test_csv_without_header_needs_rate_and_says_so(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("0.5 1.5\n2.5 3.5\n")
    x, fs, meta = read_recording(path, 1)
    assert x.tolist() == [1.5, 3.5] and fs is None and meta["header"] is False
    with pytest.raises(ValueError, match=r"no sample rate.*set 'rate'"):
        replay(path, {"a": 0}).load()
    with pytest.raises(ValueError, match=r"channel 'de' not found; available: \['0', '1'\]"):
        read_recording(path, "de")
    with pytest.raises(ValueError, match=r"channel 7: no such column; the file has 2"):
        read_recording(path, 7)


def test_npz_by_key_with_rate_variable_and_2d_column(tmp_path):
    path = tmp_path / "rec.npz"
    data = np.arange(30.0).reshape(10, 3)
    np.savez(path, data=data, accel=np.linspace(0, 1, 10), fs=np.array(25600.0))
    x, fs, meta = read_recording(path, "accel")
    assert np.array_equal(x, np.linspace(0, 1, 10)) and fs == 25600.0 and meta["rate_source"] == "variable fs"
    x, _, _ = read_recording(path, "data[2]")
    assert x.tolist() == data[:, 2].tolist()
    with pytest.raises(ValueError, match=r"data has shape \(10, 3\); select a column as 'data\[0\]'"):
        read_recording(path, "data")
    with pytest.raises(ValueError, match=r"channel 'gyro' not found; available: \['data \(10, 3\)', 'accel', 'fs'\]"):
        read_recording(path, "gyro")
    with pytest.raises(ValueError, match="selected by name"):
        read_recording(path, 0)


def test_npz_non_finite_values_are_rejected(tmp_path):
    path = tmp_path / "gappy.npz"
    np.savez(path, x=np.array([1.0, np.nan, 3.0, np.inf, 5.0]))
    src = replay(path, {"x": "x"}, rate=10.0)
    assert [s.values.tolist() for s in collect(src)] == [[1.0, 3.0, 5.0]]
    assert src.stats()["rejected_non_finite"] == 2 and src.stats()["rejected"] == 2


@pytest.mark.parametrize("dtype, full_scale", [(np.int16, 32768.0), (np.int32, 2.0**31), (np.uint8, None),
                                               (np.float32, 1.0)])
def test_wav_rate_from_file_and_documented_pcm_scale(tmp_path, dtype, full_scale):
    rng = np.random.default_rng(3)
    if dtype == np.uint8:
        codes = rng.integers(0, 256, size=(64, 2)).astype(np.uint8)
        expected = (codes[:, 1].astype(float) - 128) / 128
    elif dtype == np.float32:
        codes = rng.uniform(-1, 1, size=(64, 2)).astype(np.float32)
        expected = codes[:, 1].astype(float)
    else:
        info = np.iinfo(dtype)
        codes = rng.integers(info.min, info.max, size=(64, 2), dtype=dtype)
        expected = codes[:, 1].astype(float) / full_scale
    path = tmp_path / "rec.wav"
    wavfile.write(path, 8000, codes)
    x, fs, meta = read_recording(path, 1)
    assert fs == 8000.0 and meta["rate_source"] == "wav header"
    assert np.array_equal(x, expected)
    # a +-50 g sensor: scale is the full-scale value
    (s,) = collect(replay(path, {"vib": 1}, scale={"vib": 50.0}, block_size=64))
    assert np.allclose(s.values, expected * 50.0, rtol=1e-15, atol=0) and s.rate == 8000.0
    with pytest.raises(ValueError, match="select a channel, one of"):
        read_recording(path)


def test_mat_selection_by_suffix_and_name_rpm_and_rate_variable(tmp_path):
    path = tmp_path / "rig.mat"
    de, fe = np.arange(8.0), -np.arange(8.0)
    savemat(path, {"X042_DE_time": de[:, None], "X042_FE_time": fe[:, None], "X042RPM": 1730, "fs": 48000})
    x, fs, meta = read_recording(path, "DE")
    assert x.tolist() == de.tolist() and fs == 48000.0 and meta["rate_source"] == "variable fs"
    assert meta["rpm"] == 1730.0 and meta["rpm_variable"] == "X042RPM" and meta["selected"] == "X042_DE_time"
    assert read_recording(path, "X042_FE_time")[0].tolist() == fe.tolist()
    assert read_recording(path, "fe")[2]["selected"] == "X042_FE_time"
    assert read_recording(path, "DE", rate=12000)[1] == 12000.0  # the config overrides the file
    with pytest.raises(ValueError, match=r"channel 'BA' not found; available: \['X042_DE_time', 'X042_FE_time'"):
        read_recording(path, "BA")
    two = tmp_path / "two.mat"
    savemat(two, {"X1_DE_time": de[:, None], "X2_DE_time": de[:, None]})
    with pytest.raises(ValueError, match=r"matches several variables \['X1_DE_time', 'X2_DE_time'\]"):
        read_recording(two, "DE")


# ---------------------------------------------------------------- the real CWRU files

@pytest.mark.parametrize("name, rate, var, n", [("Normal_0.mat", 48000, "X097_DE_time", 243938),
                                                ("OR007_6_0.mat", 12000, "X130_DE_time", 121991)])
def test_cwru_drive_end_with_rate_given_and_rpm_from_the_file(name, rate, var, n):
    x, fs, meta = read_recording(CWRU / name, "DE", rate=rate)
    truth = loadmat(CWRU / name)[var].ravel()
    assert x.shape == (n,) and np.array_equal(x, truth) and x.dtype == np.float64
    assert fs == float(rate) and meta["rate_source"] == "config" and meta["file_rate"] is None
    assert meta["rpm"] == 1796.0 and meta["selected"] == var
    assert meta["duration_s"] == pytest.approx(n / rate)


def test_cwru_without_rate_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match=r"no sample rate\. A \.mat file carries one only in a variable .*"
                                         r"set 'rate' in the config \(CWRU files: 12000 or 48000 Hz"):
        ReplaySource(ReplayConfig(str(CWRU / "Normal_0.mat"), "m", {"vibration_de": "DE"})).load()
    with pytest.raises(ValueError, match=r"channel 'BA' not found; available: \['X097_DE_time', 'X097_FE_time', "
                                         r"'X097RPM'\]"):
        read_recording(CWRU / "Normal_0.mat", "BA")


def test_cwru_fast_replay_delivers_the_whole_record_with_exact_times():
    truth = loadmat(CWRU / "OR007_6_0.mat")
    src = replay(CWRU / "OR007_6_0.mat", {"vibration_de": "DE", "vibration_ba": "BA"}, rate=12000,
                 block_size=1200, rpm_channel="shaft_speed")
    t0 = time.monotonic()
    samples = collect(src)
    elapsed = time.monotonic() - t0
    assert elapsed < 5.0  # 10.2 s of recording, as fast as possible (it takes well under a second)
    de = [s for s in samples if s.channel == "vibration_de"]
    assert len(de) == 102 and [s.start_ns for s in de] == [EPOCH + k * 100_000_000 for k in range(102)]
    assert np.array_equal(np.concatenate([s.values for s in de]), truth["X130_DE_time"].ravel())
    ba = np.concatenate([s.values for s in samples if s.channel == "vibration_ba"])
    assert np.array_equal(ba, truth["X130_BA_time"].ravel())
    rpm = [s for s in samples if s.channel == "shaft_speed"]
    assert len(rpm) == 102 and all(s.values.tolist() == [1796.0] and s.rate == 0 and s.units == "rpm" for s in rpm)
    assert src.stats() == {"samples": 2 * 121991 + 102, "rejected": 0, "blocks": 3 * 102, "passes": 1}


# ---------------------------------------------------------------- pacing, range, loop, epoch

def test_realtime_pacing_follows_the_recording_rate():
    # pacing can only be late, never early: the lower bounds are exact, the upper ones allow a loaded machine
    src = replay(CWRU / "OR007_6_0.mat", {"vibration_de": "DE"}, rate=12000, pace="realtime", block_size=1200)
    t0 = time.monotonic()
    samples = collect(src, limit=11)  # 11 blocks of 0.1 s: the last leaves 1.1 s after the start
    elapsed = time.monotonic() - t0
    assert 1.0 <= elapsed < 10.0
    assert [s.start_ns - EPOCH for s in samples] == [k * 100_000_000 for k in range(11)]
    fast = replay(CWRU / "OR007_6_0.mat", {"vibration_de": "DE"}, rate=12000, pace="realtime", speed=4.0)
    t0 = time.monotonic()
    collect(fast, limit=11)
    assert 0.25 <= time.monotonic() - t0 < elapsed  # four times faster: 0.275 s against at least 1.1 s


def test_range_in_seconds_and_fractions():
    x = loadmat(CWRU / "OR007_6_0.mat")["X130_DE_time"].ravel()
    src = replay(CWRU / "OR007_6_0.mat", {"v": "DE"}, rate=12000, start_s=1.0, stop_s=1.5, block_size=2400)
    samples = collect(src)
    assert [s.start_ns for s in samples] == [EPOCH + 1_000_000_000, EPOCH + 1_200_000_000, EPOCH + 1_400_000_000]
    assert np.array_equal(np.concatenate([s.values for s in samples]), x[12000:18000])
    src = replay(CWRU / "OR007_6_0.mat", {"v": "DE"}, rate=12000, start_fraction=0.5, stop_fraction=0.75,
                 block_size=100_000)
    (s,) = collect(src)
    i0, i1 = round(0.5 * x.size), round(0.75 * x.size)
    assert np.array_equal(s.values, x[i0:i1]) and s.start_ns == EPOCH + round(i0 / 12000 * 1e9)
    with pytest.raises(ValueError, match=r"range 11..12 s is empty or outside the recording \(0..10.1659 s"):
        replay(CWRU / "OR007_6_0.mat", {"v": "DE"}, rate=12000, start_s=11, stop_s=12).load()


def test_loop_keeps_time_increasing(tmp_path):
    path = tmp_path / "short.npz"
    np.savez(path, x=np.arange(10.0))
    src = replay(path, {"x": "x"}, rate=1000.0, block_size=4, loop=True, epoch=0)
    samples = collect(src, limit=7)
    assert [(s.start_ns // 1_000_000, s.values.tolist()) for s in samples] == [
        (0, [0, 1, 2, 3]), (4, [4, 5, 6, 7]), (8, [8, 9]),
        (10, [0, 1, 2, 3]), (14, [4, 5, 6, 7]), (18, [8, 9]), (20, [0, 1, 2, 3])]
    assert src.stats()["passes"] == 2


def test_epoch_as_iso_text_or_now(tmp_path):
    path = tmp_path / "short.npz"
    np.savez(path, x=np.arange(10.0))
    (s,) = collect(replay(path, {"x": "x"}, rate=1000.0, block_size=100, epoch="2024-05-01T10:00:00+02:00"))
    assert s.start_ns == EPOCH
    before = time.time_ns()
    (s,) = collect(replay(path, {"x": "x"}, rate=1000.0, block_size=100, epoch=None, start_s=0.002))
    assert before <= s.start_ns <= time.time_ns()  # the first replayed sample is stamped now


# ---------------------------------------------------------------- config

@pytest.mark.parametrize("kw, message", [
    ({"start_s": 1.0, "start_fraction": 0.1}, "give start_s or start_fraction, not both"),
    ({"stop_fraction": 1.5}, r"stop_fraction must be in \[0, 1\], got 1.5"),
    ({"pace": "slow"}, "pace must be 'realtime' or 'fast', got 'slow'"),
    ({"block_size": 0}, "block_size must be a positive integer, got 0"),
    ({"units": {"vibration_fe": "g"}}, r"units names unknown channels \['vibration_fe'\]"),
    ({"epoch": "2024-05-01 08:00"}, "has no time zone"),
    ({"epoch": "yesterday"}, "not an ISO-8601 time"),
])
def test_config_errors_name_field_and_value(kw, message):
    with pytest.raises(ValueError, match=message):
        ReplayConfig(str(CWRU / "OR007_6_0.mat"), "m", {"vibration_de": "DE"}, **kw)


def test_missing_or_unsupported_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match="expected an existing .mat/.csv/.npz/.wav file"):
        ReplayConfig(str(tmp_path / "nope.mat"), "m", {"v": "DE"})
    (tmp_path / "rec.txt").write_text("1\n")
    with pytest.raises(ValueError, match="expected an existing"):
        ReplayConfig(str(tmp_path / "rec.txt"), "m", {"v": 0})
    (tmp_path / "bad.wav").write_bytes(b"RIFF not really")
    with pytest.raises(ValueError, match=r"bad.wav: not a readable .wav file"):
        read_recording(tmp_path / "bad.wav")


def test_sample_config_builds_and_replays_cwru():
    config = tomllib.loads(get_adapter("replay").sample_config.read_text(encoding="utf-8"))
    config["path"] = str((REPO / config["path"]).resolve())
    config.update(pace="fast", epoch=EPOCH)
    source = build_source("replay", config)
    samples = collect(source, limit=6)
    assert [s.channel for s in samples[:3]] == ["vibration_de", "vibration_fe", "shaft_speed"]
    truth = loadmat(CWRU / "OR007_6_0.mat")
    assert np.array_equal(samples[0].values, truth["X130_DE_time"].ravel()[:1200])
    assert np.array_equal(samples[4].values, truth["X130_FE_time"].ravel()[1200:2400])
    assert samples[3].start_ns == EPOCH + 100_000_000 and samples[2].values.tolist() == [1796.0]
