"""bench.media.io: reading, fps conversion, audio resampling, lossless and H.264 writing, and every refusal.

References: OpenCV's own FFmpeg build decodes the GRID frames (cv2.VideoCapture), SciPy's polyphase resampler
(resample_poly) checks the soxr resampling, and hand-computed frame indices check the timestamp conversion.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from bench.media import Clip, MediaError, read_clip, write_clip
from bench.media.io import VFR_TOLERANCE, probe


def counter_clip(n: int, fps: float, size: tuple[int, int] = (16, 24), audio: bool = False) -> Clip:
    """Frame i is filled with the value i: the frame index can be read back from any pixel."""
    frames = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, *size, 3)).copy()
    samples = np.sin(np.arange(int(n / fps * 16000)) * 0.01).astype(np.float32) * 0.5 if audio else None
    return Clip(frames, fps, samples, 16000)


def write_raw(path: Path, pts_ms: list[int], n_audio: int = 0) -> Path:
    """An FFV1 Matroska file with frame i (value i) at pts_ms[i] ms, optionally with n_audio packets of silence."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("ffv1", rate=25)
        video.width, video.height, video.pix_fmt = 16, 16, "bgr0"
        video.codec_context.time_base = Fraction(1, 1000)  # keep the millisecond timestamps as given
        audio = out.add_stream("pcm_s16le", rate=16000, layout="mono") if n_audio else None
        for i in range(n_audio):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.int16), format="s16", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            out.mux(audio.encode(frame))
        for i, t in enumerate(pts_ms):
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            out.mux(audio.encode(None))
    return path


# ------------------------------------------------------------------------------------------- real GRID clips
@pytest.mark.parametrize("index", range(4))
def test_grid_clip_reads_as_75_frames_25_fps_with_speech(grid_paths: list[Path], index: int) -> None:
    path = grid_paths[index]
    clip = read_clip(path)
    assert clip.frames.shape == (75, 288, 360, 3) and clip.frames.dtype == np.uint8
    assert clip.fps == 25.0 and clip.sample_rate == 16000
    assert clip.audio is not None and clip.audio.dtype == np.float32 and clip.audio.ndim == 1
    assert 2.9 * 16000 <= len(clip.audio) <= 3.05 * 16000  # MP2 audio of 2.978 s
    assert np.abs(clip.audio).max() <= 1.0
    assert np.sqrt(np.mean(clip.audio**2)) > 0.02  # speech, not silence
    assert clip.meta["source_fps"] == 25.0 and clip.meta["source_sample_rate"] == 44100
    assert clip.meta["codec"] == "mpeg1video" and clip.meta["path"] == str(path)


def test_grid_speech_is_louder_inside_words(grid_dir: Path) -> None:
    """The .align word boundaries (units of 1/25000 s) line up with the audio energy we read."""
    clip = read_clip(grid_dir / "bbaf2n.mpg")
    rows = [line.split() for line in (grid_dir / "bbaf2n.align").read_text().splitlines()]
    spans = [(int(a) / 25000, int(b) / 25000, w) for a, b, w in rows]
    assert clip.audio is not None

    def rms(a: float, b: float) -> float:
        seg = clip.audio[int(a * 16000) : int(b * 16000)]
        return float(np.sqrt(np.mean(seg**2)))

    speech = np.mean([rms(a, b) for a, b, w in spans if w not in ("sil", "sp")])
    silence = rms(*spans[0][:2])
    assert spans[0][2] == "sil" and speech > 5 * silence


def test_grid_frames_match_opencv(grid_dir: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    capture = cv2.VideoCapture(str(grid_dir / "swwp2s.mpg"))
    reference = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        reference.append(bgr[..., ::-1])
    clip = read_clip(grid_dir / "swwp2s.mpg")
    assert len(reference) == 75
    np.testing.assert_array_equal(clip.frames, np.stack(reference))


def test_grid_audio_matches_independent_resampling(grid_dir: Path) -> None:
    """Native read (44.1 kHz stereo averaged) resampled by SciPy's polyphase filter agrees with our soxr path.

    The two anti-alias filters differ only in their transition band (about 7.3-8 kHz): full band within 2% RMS,
    below 6 kHz within 0.1%.
    """
    from scipy.signal import butter, resample_poly, sosfiltfilt

    native = read_clip(grid_dir / "lbax4n.mpg", sample_rate=None)
    ours = read_clip(grid_dir / "lbax4n.mpg")
    assert native.sample_rate == 44100 and native.audio is not None and ours.audio is not None
    reference = np.clip(resample_poly(native.audio.astype(np.float64), 160, 441, window=("kaiser", 14.0)), -1, 1)
    assert abs(len(reference) - len(ours.audio)) <= 1
    n = min(len(reference), len(ours.audio))
    reference, got, middle = reference[:n], ours.audio[:n].astype(np.float64), slice(400, n - 400)

    def rel_rms(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.sqrt(np.mean((a[middle] - b[middle]) ** 2) / np.mean(reference[middle] ** 2)))

    low = butter(8, 6000, fs=16000, output="sos")
    assert rel_rms(reference, got) < 0.02
    assert rel_rms(sosfiltfilt(low, reference), sosfiltfilt(low, got)) < 0.001


def test_grid_native_rates_and_probe(grid_dir: Path) -> None:
    clip = read_clip(grid_dir / "bbaf2n.mpg", fps=None, sample_rate=None)
    assert clip.fps == 25.0 and clip.num_frames == 75 and clip.sample_rate == 44100
    np.testing.assert_array_equal(clip.frames, read_clip(grid_dir / "bbaf2n.mpg").frames)
    info = probe(grid_dir / "bbaf2n.mpg")
    video, audio = info["streams"]
    assert info["format"] == "mpeg" and info["duration"] == pytest.approx(2.98, abs=0.05)
    assert (video["type"], video["codec"], video["width"], video["height"], video["fps"]) == (
        "video", "mpeg1video", 360, 288, 25.0
    )  # fmt: skip
    assert (audio["type"], audio["sample_rate"], audio["channels"]) == ("audio", 44100, 2)


# ---------------------------------------------------------------------------------------- lossless round trip
@pytest.mark.parametrize("ext", [".mkv", ".avi", ".mp4", ".mov"])
def test_lossless_round_trip_is_bit_exact_on_random_content(tmp_path: Path, ext: str) -> None:
    rng = np.random.default_rng(0)
    clip = Clip(rng.integers(0, 256, (12, 37, 53, 3), np.uint8), 30.0, rng.uniform(-1, 1, 6400).astype(np.float32))
    path = write_clip(tmp_path / f"clip{ext}", clip)
    assert path == tmp_path / f"clip{ext}" and [p.name for p in tmp_path.iterdir()] == [path.name]
    back = read_clip(path, fps=None, sample_rate=None)
    np.testing.assert_array_equal(back.frames, clip.frames)
    np.testing.assert_array_equal(back.audio, clip.audio)  # float PCM: no 16-bit quantisation
    assert back.fps == 30.0 and back.sample_rate == 16000
    np.testing.assert_array_equal(read_clip(path, fps=30.0, sample_rate=16000).frames, clip.frames)


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_lossless_round_trip_is_bit_exact_on_real_content(grid_dir: Path, tmp_path: Path, ext: str) -> None:
    clip = read_clip(grid_dir / "lrwp9a.mpg", fps=None, sample_rate=None)
    back = read_clip(write_clip(tmp_path / f"grid{ext}", clip), fps=None, sample_rate=None)
    np.testing.assert_array_equal(back.frames, clip.frames)
    np.testing.assert_array_equal(back.audio, clip.audio)
    assert (back.fps, back.sample_rate) == (25.0, 44100)


def test_write_replaces_atomically_and_silent_clips_stay_silent(tmp_path: Path) -> None:
    target = tmp_path / "out.mkv"
    write_clip(target, counter_clip(5, 25.0, audio=True))
    write_clip(target, counter_clip(8, 25.0))
    back = read_clip(target)
    assert back.num_frames == 8 and back.audio is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv"]


# ------------------------------------------------------------------------------------------------ fps conversion
def test_50_to_25_fps_takes_every_other_frame(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "c50.mkv", counter_clip(100, 50.0))
    clip = read_clip(path, fps=25.0)
    assert clip.fps == 25.0 and clip.num_frames == 50
    np.testing.assert_array_equal(clip.frames[:, 0, 0, 0], np.arange(0, 100, 2))


@pytest.mark.parametrize("ext", [".mkv", ".avi", ".mp4"])  # 1 ms ticks (rounded), exact 1/30 ticks, mp4 ticks
def test_30_to_25_fps_nearest_earlier_frame(tmp_path: Path, ext: str) -> None:
    path = write_clip(tmp_path / f"c30{ext}", counter_clip(45, 30.0))
    clip = read_clip(path, fps=25.0)
    # output k at k/25 s shows source frame floor(k * 30 / 25); k runs while k/25 < 45/30 = 1.5 s
    assert clip.num_frames == 38
    np.testing.assert_array_equal(clip.frames[:, 0, 0, 0], [k * 30 // 25 for k in range(38)])


def test_25_to_50_fps_repeats_frames(tmp_path: Path) -> None:
    clip = read_clip(write_clip(tmp_path / "c25.mkv", counter_clip(10, 25.0)), fps=50.0)
    np.testing.assert_array_equal(clip.frames[:, 0, 0, 0], np.repeat(np.arange(10), 2))


def test_variable_frame_rate_converts_by_timestamps_and_is_refused_natively(tmp_path: Path) -> None:
    pts = [0, 20, 60, 80, 120, 140, 180, 200, 240, 260]  # alternating 20 and 40 ms intervals
    path = write_raw(tmp_path / "vfr.mkv", pts)
    clip = read_clip(path, fps=50.0)  # output times 0, 20, 40, ... ms; span ends at 260 + 1000/avg rate
    expected = [max(i for i, t in enumerate(pts) if t <= k * 20) for k in range(14)]
    np.testing.assert_array_equal(clip.frames[:14, 0, 0, 0], expected)
    with pytest.raises(MediaError, match=r"vfr\.mkv: variable frame rate"):
        read_clip(path, fps=None)


def test_small_jitter_is_within_the_vfr_tolerance(tmp_path: Path) -> None:
    jitter = int(40 * VFR_TOLERANCE) - 1  # ms, inside the tolerance of a 40 ms interval
    pts = [40 * i + (jitter if i % 2 else 0) for i in range(10)]
    clip = read_clip(write_raw(tmp_path / "jitter.mkv", pts), fps=None)
    assert clip.num_frames == 10 and clip.fps == pytest.approx(25.0, rel=0.05)


# ------------------------------------------------------------------------------------------------ audio
def test_sine_resampled_from_44100_keeps_frequency_amplitude_and_length(tmp_path: Path) -> None:
    seconds, amplitude = 2.0, 0.5
    t = np.arange(int(seconds * 44100)) / 44100
    clip = Clip(np.zeros((50, 16, 16, 3), np.uint8), 25.0, (amplitude * np.sin(2 * np.pi * 1000 * t)), 44100)
    back = read_clip(write_clip(tmp_path / "sine.mkv", clip), sample_rate=16000)
    assert back.sample_rate == 16000 and back.audio is not None
    assert len(back.audio) == 32000
    spectrum = np.abs(np.fft.rfft(back.audio * np.hanning(len(back.audio))))
    assert np.fft.rfftfreq(len(back.audio), 1 / 16000)[np.argmax(spectrum)] == pytest.approx(1000.0, abs=0.5)
    middle = back.audio[1000:-1000]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(amplitude / math.sqrt(2), rel=0.005)
    expected = amplitude * np.sin(2 * np.pi * 1000 * np.arange(32000) / 16000)
    assert np.max(np.abs(back.audio[1000:-1000] - expected[1000:-1000])) < 1e-3


def test_stereo_int16_is_averaged_to_mono(tmp_path: Path) -> None:
    left = (np.sin(np.arange(16000) * 0.05) * 16384).astype(np.int16)
    right = (left // 2).astype(np.int16)
    path = tmp_path / "stereo.mkv"
    with av.open(str(path), "w") as out:
        video = out.add_stream("ffv1", rate=25)
        video.width, video.height, video.pix_fmt = 16, 16, "bgr0"
        audio = out.add_stream("pcm_s16le", rate=16000, layout="stereo")
        packed = np.stack([left, right], axis=1).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(packed, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 16000, 0
        out.mux(audio.encode(frame))
        for i in range(25):
            image = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
            image.pts = i
            out.mux(video.encode(image))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    clip = read_clip(path, sample_rate=None)
    np.testing.assert_allclose(clip.audio, (left / 32768.0 + right / 32768.0) / 2, atol=1e-7)


# ------------------------------------------------------------------------------------------------ H.264 + AAC
def test_h264_aac_output_reads_back_with_the_right_length(tmp_path: Path) -> None:
    y, x = np.mgrid[0:48, 0:64]
    frames = np.stack([np.stack([(x * 4 + i * 3) % 256, y * 5, (x + y + i) % 256], -1) for i in range(50)])
    audio = (0.3 * np.sin(2 * np.pi * 440 * np.arange(32000) / 16000)).astype(np.float32)
    clip = Clip(frames.astype(np.uint8), 25.0, audio, 16000)
    path = write_clip(tmp_path / "lossy.mp4", clip, lossless=False)
    back = read_clip(path)
    assert back.num_frames == 50 and back.meta["codec"] == "h264" and back.meta["audio_codec"] == "aac"
    assert back.audio is not None and abs(len(back.audio) - 32000) <= 1024  # AAC pads to whole 1024-sample frames
    mse = np.mean((back.frames.astype(float) - clip.frames) ** 2)
    assert 10 * np.log10(255**2 / mse) > 30
    assert np.corrcoef(back.audio[1000:30000], audio[1000:30000])[0, 1] > 0.99


def test_write_refusals(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"x\.webm: cannot write lossless video to '\.webm'"):
        write_clip(tmp_path / "x.webm", counter_clip(3, 25.0))
    with pytest.raises(MediaError, match=r"odd\.mp4: H\.264 yuv420p needs even frame sizes"):
        write_clip(tmp_path / "odd.mp4", counter_clip(3, 25.0, size=(15, 16)), lossless=False)
    with pytest.raises(MediaError, match=r"zero frames"):
        write_clip(tmp_path / "none.mkv", Clip(np.zeros((0, 8, 8, 3), np.uint8)))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------ bad input
def test_missing_file_and_non_media(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothere\.mp4"):
        read_clip(tmp_path / "nothere.mp4")
    (tmp_path / "notes.mp4").write_text("not a video at all\n" * 20)
    with pytest.raises(MediaError, match=r"notes\.mp4: not a readable media file"):
        read_clip(tmp_path / "notes.mp4")
    (tmp_path / "empty.mkv").write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.mkv: empty file"):
        read_clip(tmp_path / "empty.mkv")
    with pytest.raises(MediaError, match="not a regular file"):
        read_clip(tmp_path)


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
def test_truncated_grid_clip_is_refused(grid_dir: Path, tmp_path: Path, fraction: float) -> None:
    data = (grid_dir / "bbaf2n.mpg").read_bytes()
    path = tmp_path / "cut.mpg"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(MediaError, match=r"cut\.mpg: truncated or corrupt"):
        read_clip(path)


@pytest.mark.parametrize("ext", [".mkv", ".mp4", ".avi"])
def test_truncated_written_clip_is_refused(tmp_path: Path, ext: str) -> None:
    data = write_clip(tmp_path / f"full{ext}", counter_clip(60, 25.0, size=(64, 64), audio=True)).read_bytes()
    path = tmp_path / f"cut{ext}"
    path.write_bytes(data[: int(len(data) * 0.7)])
    with pytest.raises(MediaError, match=rf"cut\{ext}: truncated"):
        read_clip(path)


def test_missing_streams_and_zero_frames(tmp_path: Path) -> None:
    audio_only = tmp_path / "speech.m4a"
    with av.open(str(audio_only), "w") as out:
        stream = out.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(MediaError, match=r"speech\.m4a: no video stream \(the file has audio\)"):
        read_clip(audio_only)
    silent = write_clip(tmp_path / "silent.mkv", counter_clip(5, 25.0))
    assert read_clip(silent).audio is None
    with pytest.raises(MediaError, match=r"silent\.mkv: no audio stream, but audio is required"):
        read_clip(silent, require_audio=True)
    assert read_clip(write_clip(tmp_path / "voiced.mkv", counter_clip(5, 25.0, audio=True)), require_audio=True)
    empty_video = write_raw(tmp_path / "novideo.mkv", [], n_audio=4)  # a video track without a single frame
    with pytest.raises(MediaError, match=r"novideo\.mkv: zero video frames"):
        read_clip(empty_video)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="fps must be positive"):
        read_clip("any.mp4", fps=0)
    with pytest.raises(ValueError, match="sample_rate must be positive"):
        read_clip("any.mp4", sample_rate=-1)


def test_declared_length_checks() -> None:
    """The container's own frame count or duration (Matroska's DURATION tag) exposes a silently short stream."""
    from types import SimpleNamespace

    from bench.media.io import _check_complete

    times = [i / 25 for i in range(75)]
    mpeg = SimpleNamespace(frames=0, duration=268200, time_base=Fraction(1, 90000), metadata={})
    _check_complete(Path("ok.mpg"), mpeg, times, 0.04)  # 2.98 s declared, 3.00 s decoded
    counted = SimpleNamespace(frames=75, duration=None, time_base=None, metadata={})
    with pytest.raises(MediaError, match=r"short\.mp4: truncated, decoded 38 of the 75 frames"):
        _check_complete(Path("short.mp4"), counted, times[:38], 0.04)
    tagged = SimpleNamespace(frames=0, duration=None, time_base=None, metadata={"DURATION": "00:00:03.000000000"})
    _check_complete(Path("ok.mkv"), tagged, times, 0.04)
    with pytest.raises(MediaError, match=r"short\.mkv: truncated, video decodes to 2\.68 s but .* declares 3\.00 s"):
        _check_complete(Path("short.mkv"), tagged, times[:67], 0.04)


def test_concurrent_reads_still_detect_damage(tmp_path: Path) -> None:
    """FFmpeg's log level is process-wide; overlapping readers must each still see their own file's damage."""
    from concurrent.futures import ThreadPoolExecutor

    good = write_clip(tmp_path / "good.mkv", counter_clip(40, 25.0, size=(64, 64), audio=True))
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    level = av.logging.get_level()

    def outcome(path: Path) -> str:
        try:
            return f"{read_clip(path).num_frames} frames"
        except MediaError as exc:
            return "truncated" if "truncated" in str(exc) else str(exc)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(outcome, [good, cut] * 6))
    assert results == ["40 frames", "truncated"] * 6
    assert av.logging.get_level() == level


def test_grey_frames_are_converted_once_per_clip(grid_paths: list[Path], tmp_path: Path, monkeypatch) -> None:
    """CPBD, FDBM, grey PSNR and the face tracker of LMD all read the clip's one memoised luma, equal to OpenCV's."""
    import cv2

    import bench.media.luma as luma_module
    import metrics
    from metrics import Item

    monkeypatch.setenv("TALKBENCH_CACHE", str(tmp_path))
    clip, reference = read_clip(grid_paths[0]), read_clip(grid_paths[0])
    calls = []
    convert = luma_module.luma
    monkeypatch.setattr(luma_module, "luma", lambda frames: calls.append(len(frames)) or convert(frames))
    for name in ("cpbd", "fdbm", "psnr-grey", "lmd"):
        assert metrics.create(name)(Item(clip, reference, video_id="x")).ok, name
    assert calls == [clip.num_frames, reference.num_frames]  # one conversion of each clip for all four metrics
    grey = clip.grey()
    assert grey is clip.grey() and not grey.flags.writeable
    np.testing.assert_array_equal(grey[7], cv2.cvtColor(clip.frames[7], cv2.COLOR_RGB2GRAY))


def test_one_decoder_thread_gives_the_same_frames(tmp_path, monkeypatch) -> None:
    """``--workers`` processes decode on one thread; the frames equal FFmpeg's threaded decoding, for H.264 too."""
    from bench.media import io

    rng = np.random.default_rng(3)
    frames = np.clip(rng.normal(128, 40, (12, 64, 96, 3)), 0, 255).astype(np.uint8)
    paths = [write_clip(tmp_path / "a.mkv", Clip(frames)), write_clip(tmp_path / "b.mp4", Clip(frames), lossless=False)]
    threaded = [read_clip(p).frames for p in paths]
    counts = []
    monkeypatch.setattr(io, "_DECODE_THREADS", 0)
    io.set_decode_threads(1)
    original = io._decode

    def spy(file, container, fps):
        got = original(file, container, fps)
        counts.append(got["video"].codec_context.thread_count)
        return got

    monkeypatch.setattr(io, "_decode", spy)
    for path, expected in zip(paths, threaded, strict=True):
        np.testing.assert_array_equal(read_clip(path).frames, expected)
    assert counts == [1, 1]
    with pytest.raises(ValueError, match="0 \\(automatic\\) or more"):
        io.set_decode_threads(-1)


@pytest.mark.parametrize("expected", [1, 5, 12, 40])
def test_frames_are_gathered_in_one_array_whatever_the_header_promised(expected) -> None:
    """The decoder's frame array grows past a short guess and gives up the spare room of a long one."""
    from bench.media.io import _FrameArray

    frames = np.random.default_rng(0).integers(0, 256, (12, 4, 6, 3), dtype=np.uint8)
    gathered = _FrameArray(expected)
    for frame in frames:
        gathered.append(frame)
    out = gathered.frames()
    np.testing.assert_array_equal(out, frames)
    assert out.flags["C_CONTIGUOUS"] and len(gathered) == 12
    assert out.base is None or out.base.shape[0] <= 12 + 2  # at most two spare frames kept alive
    assert _FrameArray(3).frames().shape == (0, 0, 0, 3)


def test_header_frame_count_sizes_the_frame_array(grid_paths: list[Path], tmp_path) -> None:
    from bench.media import io

    sizes = []
    original = io._FrameArray.__init__

    def spy(self, expected):
        sizes.append(expected)
        original(self, expected)

    frames = np.zeros((10, 16, 16, 3), np.uint8)
    lossless = write_clip(tmp_path / "c.mkv", Clip(frames, fps=25.0))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(io._FrameArray, "__init__", spy)
        assert read_clip(grid_paths[0]).num_frames == 75 and read_clip(lossless).num_frames == 10
        read_clip(lossless, fps=50.0)
    assert sizes == [75, 10, 20]


def test_a_header_claiming_hours_reserves_little(monkeypatch) -> None:
    from bench.media import io

    monkeypatch.setattr(io, "_FIRST_BYTES", 4 * 6 * 3 * 5)  # room for five frames
    gathered = io._FrameArray(10**9)  # a damaged or hostile header
    frames = np.ones((7, 4, 6, 3), np.uint8)
    for frame in frames:
        gathered.append(frame)
    np.testing.assert_array_equal(gathered.frames(), frames)


def test_content_and_frames_hashes_cover_the_bytes_of_every_array() -> None:
    """The cache keys are SHA-256 of the arrays' bytes (hashed in place, not copied): the same value as hashing
    ``tobytes()``, for a strided view too, so entries cached by earlier versions stay valid."""
    import hashlib

    from bench.faces.cache import frames_hash

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (4, 10, 14, 3), dtype=np.uint8)[:, ::2]  # a non-contiguous view
    audio = rng.standard_normal(640).astype(np.float32)
    clip = Clip(frames, fps=25.0, audio=audio, sample_rate=16000)
    expected_frames = hashlib.sha256(np.asarray(frames.shape, np.int64).tobytes() + frames.tobytes()).hexdigest()
    assert frames_hash(clip) == expected_frames
    parts = [np.asarray(frames.shape, np.int64), frames, np.float64(25.0), audio, np.int64(16000)]
    assert clip.content_hash() == hashlib.sha256(b"".join(np.asarray(p).tobytes() for p in parts)).hexdigest()
    assert Clip(frames.copy(), fps=25.0).content_hash() != clip.content_hash()  # the audio is part of the key
