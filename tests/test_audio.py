"""core.audio: every format and rate in, mono float32 at 22,050 Hz out; each bad file named with its problem."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from core.audio import SILENCE_PEAK, is_audio_path, load_audio, n_samples
from core.errors import BadInputError

SR = 22050


def tone(freq: float, seconds: float, sr: int, *, amp: float = 0.5, channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    y = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([y] * channels, axis=1) if channels > 1 else y


def peak_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spec)])


def problem_of(path, **kw) -> str:
    with pytest.raises(BadInputError) as info:
        load_audio(path, **kw)
    assert info.value.path == str(path)  # the message names the file
    assert str(path) in str(info.value)
    return info.value.problem


@pytest.mark.parametrize("name, expected", [
    ("a.wav", True), ("b.AU", True), ("c.flac", True), ("d.ogg", True), ("e.Mp3", True),
    ("f.txt", False), ("cover.jpg", False), ("noext", False), ("x.wav.txt", False),
])
def test_is_audio_path(name, expected):
    assert is_audio_path(name) is expected


def test_wav_mono_22050_unchanged(tmp_path):
    y = tone(440, 2.0, SR)
    path = tmp_path / "a.wav"
    sf.write(path, y, SR, subtype="PCM_16")
    out = load_audio(path)
    assert out.dtype == np.float32 and out.ndim == 1 and out.shape[0] == y.shape[0]
    assert np.max(np.abs(out - y)) < 1e-4  # 16-bit quantisation only
    assert n_samples(path) == y.shape[0]


def test_44k_stereo_is_resampled_and_mixed_to_mono(tmp_path):
    left = tone(440, 2.0, 44100)
    right = tone(1000, 2.0, 44100)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 44100, subtype="PCM_16")
    y = load_audio(path)
    assert y.ndim == 1 and y.dtype == np.float32
    assert abs(y.shape[0] - 2 * SR) <= 1
    assert n_samples(path) == y.shape[0]
    spec = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    top2 = sorted(freqs[np.argsort(spec)[-2:]])
    assert top2 == pytest.approx([440, 1000], abs=2)  # both channels, at the right pitch
    assert np.max(np.abs(y)) == pytest.approx(0.5, abs=0.05)  # mean of the channels, not the sum


@pytest.mark.parametrize("ext, fmt, subtype", [
    (".flac", "FLAC", "PCM_16"), (".ogg", "OGG", "VORBIS"), (".au", "AU", "PCM_16"),
])
def test_compressed_and_legacy_formats(tmp_path, ext, fmt, subtype):
    y = tone(660, 1.5, SR)
    path = tmp_path / f"clip{ext}"
    sf.write(path, y, SR, format=fmt, subtype=subtype)
    out = load_audio(path)
    assert abs(out.shape[0] - y.shape[0]) <= 2048  # lossy codecs may pad a little
    assert peak_hz(out, SR) == pytest.approx(660, abs=2)


def test_mp3(tmp_path):
    path = tmp_path / "clip.mp3"
    try:
        sf.write(path, tone(880, 1.5, SR), SR, format="MP3", subtype="MPEG_LAYER_III")
    except Exception as exc:  # libsndfile built without LAME
        pytest.skip(f"cannot write MP3 here: {exc}")
    out = load_audio(path)
    assert out.shape[0] >= SR
    assert peak_hz(out, SR) == pytest.approx(880, abs=3)


def test_offset_and_duration(tmp_path):
    y = np.concatenate([tone(300, 1.0, SR), tone(1200, 2.0, SR)])
    path = tmp_path / "two.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    out = load_audio(path, offset=1.25, duration=1.5)
    assert out.shape[0] == int(1.5 * SR)
    assert peak_hz(out, SR) == pytest.approx(1200, abs=2)
    assert "past the end" in problem_of(path, offset=10.0)


def test_missing_file_and_folder(tmp_path):
    assert problem_of(tmp_path / "nope.wav") == "file not found"
    folder = tmp_path / "album.wav"
    folder.mkdir()
    assert "folder" in problem_of(folder)


@pytest.mark.parametrize("name, content", [("notes.txt", b"hello"), ("cover.jpg", b"\xff\xd8\xff\xe0JFIF")])
def test_not_an_audio_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert problem_of(path).startswith("not an audio file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert problem_of(path) == "empty file (0 bytes)"


def test_corrupt_header(tmp_path):
    path = tmp_path / "garbage.wav"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert problem_of(path).startswith("unreadable or corrupt audio file")


def test_header_cut_short(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(440, 2.0, SR), SR, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[:20])  # inside the RIFF header
    assert problem_of(cut).startswith("unreadable or corrupt audio file")


def test_no_samples(tmp_path):
    path = tmp_path / "zero_frames.wav"
    sf.write(path, np.zeros(0, np.float32), SR, subtype="PCM_16")
    assert path.stat().st_size > 0
    assert problem_of(path) == "no audio samples"


def test_too_short(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, tone(440, 0.4, SR), SR, subtype="PCM_16")
    problem = problem_of(path)
    assert problem.startswith("too short: 0.40 s")
    assert load_audio(path, min_seconds=0.1).shape[0] == int(0.4 * SR)


def test_silent(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(2 * SR, np.float32), SR, subtype="PCM_16")
    assert problem_of(path).startswith("silent")
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, tone(440, 2.0, SR, amp=SILENCE_PEAK * 10), SR, subtype="FLOAT")
    assert load_audio(quiet).shape[0] == 2 * SR  # very quiet is not silent


def test_nan_samples(tmp_path):
    y = tone(440, 2.0, SR)
    y[1000] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    assert problem_of(path) == "contains NaN or infinite samples"
    y[1000] = np.inf
    sf.write(path, y, SR, subtype="FLOAT")
    assert problem_of(path) == "contains NaN or infinite samples"


def test_real_gtzan_clip(shared_data):
    path = shared_data / "gtzan_clips" / "country.00000.wav"
    y = load_audio(path)
    raw, sr = sf.read(path, dtype="float32")
    assert sr == SR and y.shape == (663300,)
    np.testing.assert_array_equal(y, raw)


def test_a_long_file_is_analysed_on_its_centre_window_read_alone(tmp_path):
    import tracemalloc

    from core.audio import WINDOW_SECONDS
    from core.features.gtzan57 import gtzan57

    sr = 8000
    path = tmp_path / "twenty_minutes.wav"
    minutes = 20
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
        for minute in range(minutes):  # written a minute at a time: 440 Hz, except 880 Hz in the middle minute
            f.write(tone(880.0 if minute == minutes // 2 else 440.0, 60.0, sr, amp=0.3))
    tracemalloc.start()
    try:
        y = load_audio(path, sr=sr)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(y) == int(WINDOW_SECONDS * sr)
    # the centre 30 s: minute 10 (880 Hz) starts 15 s into it, and the window ends 15 s into minute 10
    assert peak_hz(y[: 14 * sr], sr) == pytest.approx(440, abs=5)
    assert peak_hz(y[16 * sr:], sr) == pytest.approx(880, abs=5)
    whole = minutes * 60 * sr * 4  # the file as float32 samples, what a whole read would hold
    assert peak < whole / 8, f"reading a {minutes}-minute file held {peak / 2**20:.1f} MiB"
    assert n_samples(path, sr=sr) == minutes * 60 * sr  # the file's own length is still reported
    features = gtzan57(y=load_audio(path))
    assert np.isfinite(features).all()


def test_a_clip_a_little_over_thirty_seconds_stays_whole(tmp_path):
    sr = 8000
    path = tmp_path / "gtzan_like.wav"
    sf.write(path, tone(440.0, 30.6, sr), sr)
    assert len(load_audio(path, sr=sr)) == int(30.6 * sr)
    assert len(load_audio(path, sr=sr, offset=1.0, duration=5.0)) == 5 * sr  # an explicit part is what it says


@pytest.mark.parametrize("name, head, said", [
    ("cover.mp3", b"\x89PNG\r\n\x1a\n" + bytes(300), "not an audio file: it looks like a PNG image, not MP3 audio"),
    ("scan.flac", b"%PDF-1.7\n" + bytes(300), "not an audio file: it looks like a PDF document, not FLAC audio"),
    ("notes.wav", b"just some words\n" * 40, "not an audio file: it looks like a text file, not WAV audio"),
])
def test_a_file_that_is_not_audio_is_described(tmp_path, name, head, said):
    (tmp_path / name).write_bytes(head)
    assert problem_of(tmp_path / name) == said
    assert (tmp_path / name).read_bytes() == head
