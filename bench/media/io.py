"""Read and write :class:`Clip` s with PyAV (the FFmpeg bundled in its wheels; no system ffmpeg needed).

Reading (:func:`read_clip`)
    * Video is decoded to uint8 RGB ``[T, H, W, 3]``. Frame rate conversion works on presentation timestamps: the
      output frame for time ``t = k / fps`` (``t`` measured from the first video frame) is the last source frame
      whose timestamp is ``<= t`` ("nearest earlier", a sample-and-hold). Timestamps get a slack of one tick, as
      containers round them (30 fps in Matroska's 1 ms time base), capped at a tenth of a frame interval. The
      output covers the source's span ``[t_first, t_last + 1 / source_fps)``: ``k`` runs while ``k / fps`` is
      inside it. Dropped source frames are never converted to RGB, so reading at a lower rate is cheap. A
      variable-frame-rate source read at a fixed ``fps`` is fine; with ``fps=None`` (keep the native rate) it is
      refused when any frame interval differs from the nominal ``1 / source_fps`` by more than
      :data:`VFR_TOLERANCE` of it (plus the slack).
    * Audio is averaged to mono (as librosa does), shifted so that sample 0 lies at the first video frame (padded or
      trimmed by the streams' start difference, ``meta["audio_offset"]``), resampled with **soxr** "HQ" (librosa's
      default resampler, so features match pipelines built on ``librosa.load``; whole-signal, no streaming delay)
      and clipped to [-1, 1]. It is not cut or padded to the video's length.
    * Damage is refused: FFmpeg decode errors or corrupt-packet reports, and fewer frames or seconds than the video
      stream declares, raise :class:`MediaError` naming the file.

Writing (:func:`write_clip`)
    Lossless by default (codecs move PSNR/SSIM): FFV1 (``bgr0``) in ``.mkv``/``.avi``; RGB H.264 at qp 0
    (``libx264rgb``, exact too; not every player shows RGB H.264) in ``.mp4``/``.mov``, which cannot hold FFV1.
    Audio is 32-bit float PCM, so frames and float32 samples round-trip bit-exactly (read back at the native rate).
    ``lossless=False`` writes H.264 ``yuv420p`` (crf 18) + AAC. Files are written atomically.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import av.logging
import numpy as np
from av.video.reformatter import VideoReformatter

from bench.io import atomic_path
from bench.media.clip import Clip, MediaError

VFR_TOLERANCE = 0.10
"""With ``fps=None``, the largest allowed deviation of a frame interval from the nominal one, as a fraction of it."""

_FORMATS = {".mkv": "matroska", ".avi": "avi", ".mov": "mov", ".mp4": "mp4"}
_LOSSY_FORMATS = {".mp4", ".mkv", ".mov"}
_AUDIO_CHUNK = 1024  # samples per encoded audio frame (AAC's frame size; any size suits PCM)
_INT_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}
_DECODE_THREADS = 0  # FFmpeg's own choice; see set_decode_threads
_FIRST_BYTES = 2**28  # the most a header's frame count or duration reserves before the frames come


def set_decode_threads(count: int) -> int:
    """Decoder threads per video in this process: 0 lets FFmpeg choose (the default), 1 decodes on the calling thread.

    ``--workers`` processes and ``--threads 1`` set 1: decoder threads on top of the processes only compete for the
    same cores, and one thread asked for is one thread used. Frames are identical either way. Returns the previous
    count.
    """
    global _DECODE_THREADS
    if count < 0:
        raise ValueError(f"decoder threads must be 0 (automatic) or more, got {count}")
    previous, _DECODE_THREADS = _DECODE_THREADS, count
    return previous


# ----------------------------------------------------------------------------------------------------- reading
def _open(path: str | os.PathLike[str]) -> tuple[Path, av.container.InputContainer]:
    """Open ``path`` for reading, turning FFmpeg's failures into errors that name the file."""
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"{file}: no such media file")
    if not file.is_file():
        raise MediaError(f"{file}: not a regular file")
    if file.stat().st_size == 0:
        raise MediaError(f"{file}: empty file (0 bytes), not a media file")
    try:
        return file, av.open(str(file), "r")
    except av.error.EOFError as exc:
        raise MediaError(f"{file}: ends before its headers do (a truncated or empty container)") from exc
    except av.FFmpegError as exc:
        raise MediaError(f"{file}: not a readable media file, or a truncated one (FFmpeg: {exc.strerror})") from exc


_LOG_LOCK = threading.Lock()
_LOG_USERS: list[Any] = [0, None, True]  # readers capturing now, the log level and skip-repeated setting to restore after them


@contextmanager
def _ffmpeg_log() -> Iterator[list[tuple[int, str, str]]]:
    """Collect FFmpeg warnings and errors of this thread while decoding (FFmpeg reports damage only in its log).

    The log level is process-wide: the first concurrent reader raises it, the last one restores it.
    """
    with _LOG_LOCK:
        if _LOG_USERS[0] == 0:
            _LOG_USERS[1:] = [av.logging.get_level(), av.logging.get_skip_repeated()]
            av.logging.set_level(av.logging.WARNING)
            av.logging.set_skip_repeated(False)  # else a message repeated from an earlier file is held back
        _LOG_USERS[0] += 1
    try:
        with av.logging.Capture(True) as logs:
            yield logs
    finally:
        with _LOG_LOCK:
            _LOG_USERS[0] -= 1
            if _LOG_USERS[0] == 0:
                av.logging.set_level(_LOG_USERS[1])
                av.logging.set_skip_repeated(_LOG_USERS[2])


def _rate(stream: av.video.stream.VideoStream) -> float | None:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else None


class _FrameArray:
    """Frames copied one by one into a single array as they are converted, while still in cache; grown by doubling.

    Collecting them in a list and stacking at the end copies every frame again from memory (40 ms for a 3-second
    GRID clip). Sized from the header's frame count or duration; up to two spare frames at the end are left unused.
    """

    def __init__(self, expected: int) -> None:
        self.count, self.expected = 0, max(expected, 1)
        self._array: np.ndarray | None = None

    def __len__(self) -> int:
        return self.count

    def append(self, frame: np.ndarray) -> None:
        if self._array is None:  # a header's guess reserves at most 256 MB; longer videos grow the array
            self._array = np.empty((min(self.expected, max(1, _FIRST_BYTES // frame.nbytes)), *frame.shape), frame.dtype)
        elif self.count == len(self._array):
            grown = np.empty((2 * self.count, *frame.shape), frame.dtype)
            grown[: self.count] = self._array
            self._array = grown
        self._array[self.count] = frame
        self.count += 1

    def frames(self) -> np.ndarray:
        """The frames ``[T, H, W, 3]``; a copy only when far fewer came than the array holds."""
        if self._array is None:
            return np.zeros((0, 0, 0, 3), np.uint8)
        spare = len(self._array) - self.count
        if spare > 2:
            return self._array[: self.count].copy()
        return self._array[: self.count] if spare else self._array


class _Frames:
    """Collects decoded video frames, either all of them or resampled to a fixed rate by timestamps."""

    def __init__(self, file: Path, fps: float | None, slack: float, expected: int) -> None:
        self.file, self.fps, self.slack = file, fps, slack
        self.times: list[float] = []  # source frame times, relative to the first one
        self.out = _FrameArray(expected)
        self._held: av.VideoFrame | np.ndarray | None = None
        self.t0: float | None = None  # time of the first frame in the source's clock
        self._shape: tuple[int, int] | None = None
        # one converter for the whole stream: ``VideoFrame.to_ndarray`` builds a new swscale context per frame,
        # which costs twice the conversion itself on GRID-sized frames; the pixels are the same
        self._rgb = VideoReformatter()

    def _rgb24(self, frame: av.VideoFrame) -> np.ndarray:
        return self._rgb.reformat(frame, format="rgb24").to_ndarray()

    def _emit_until(self, end: float) -> None:
        """Emit the held frame for every output time strictly before ``end``."""
        assert self.fps is not None
        while self._held is not None and len(self.out) / self.fps < end:
            if isinstance(self._held, av.VideoFrame):  # converted only when first shown
                self._held = self._rgb24(self._held)
            self.out.append(self._held)

    def add(self, frame: av.VideoFrame, index: int, fallback_fps: float) -> None:
        t = frame.time if frame.time is not None else index / fallback_fps
        if self.t0 is None:
            self.t0, self._shape = t, (frame.height, frame.width)
        if (frame.height, frame.width) != self._shape:
            raise MediaError(f"{self.file}: frame size changes mid-stream, {self._shape} to {frame.height, frame.width}")
        rel = t - self.t0
        if self.times and rel < self.times[-1] - self.slack:
            raise MediaError(f"{self.file}: video timestamps go backwards at frame {index} ({rel:.3f} s)")
        self.times.append(rel)
        if self.fps is None:
            self.out.append(self._rgb24(frame))
            return
        self._emit_until(rel - self.slack)  # the new frame is not shown at times before rel (less the slack)
        self._held = frame

    def finish(self, interval: float) -> np.ndarray:
        if self.fps is not None and self.times:
            self._emit_until(self.times[-1] + interval - self.slack - 1e-9)  # the span end, rounded like pts
        return self.out.frames()


def _audio_samples(frame: av.AudioFrame) -> np.ndarray:
    """One decoded audio frame as float ``[channels, n]`` in [-1, 1]."""
    arr = frame.to_ndarray()
    if not frame.format.is_planar:
        arr = arr.reshape(-1, len(frame.layout.channels)).T
    if arr.dtype in _INT_SCALE:
        return arr / _INT_SCALE[arr.dtype]
    if arr.dtype == np.uint8:
        return (arr.astype(np.float32) - 128.0) / 128.0
    return arr


def _expected_frames(video: av.video.stream.VideoStream, container: av.container.InputContainer, fps: float | None) -> int:
    """The number of output frames the headers suggest (a guess for sizing; 0 when they say nothing)."""
    seconds = float(video.duration * video.time_base) if video.duration and video.time_base else None
    if seconds is None and container.duration:
        seconds = container.duration / 1e6
    if fps is not None and seconds:
        return int(np.ceil(seconds * fps - 1e-6))
    if video.frames or not seconds:
        return int(video.frames)
    return int(np.ceil(seconds * (_rate(video) or 25.0)))


def _decode(file: Path, container: av.container.InputContainer, fps: float | None) -> dict[str, Any]:
    """Demux and decode the first video stream (and the first audio stream) in one pass."""
    video = container.streams.video[0]
    if _DECODE_THREADS:
        video.codec_context.thread_count = _DECODE_THREADS
    audio = container.streams.audio[0] if container.streams.audio else None
    native = _rate(video) or 25.0
    # timestamp slack: one tick (containers round timestamps to it), at most a tenth of a frame interval
    slack = min(float(video.time_base or 0), 0.1 / max(fps or native, native))
    frames = _Frames(file, fps, slack, _expected_frames(video, container, fps))
    chunks: list[np.ndarray] = []
    audio_start: float | None = None
    with _ffmpeg_log() as logs:
        try:
            for packet in container.demux([s for s in (video, audio) if s is not None]):
                for frame in packet.decode():
                    if packet.stream is video:
                        frames.add(cast(av.VideoFrame, frame), len(frames.times), native)
                    else:
                        sound = cast(av.AudioFrame, frame)
                        audio_start = sound.time if audio_start is None else audio_start
                        chunks.append(_audio_samples(sound))
        except av.FFmpegError as exc:
            n = len(frames.times)
            raise MediaError(f"{file}: truncated or corrupt, decoding failed after {n} frames ({exc.strerror})") from exc
    # FFmpeg reports most damage only in its log: errors, and the demuxer's corrupt-packet warnings
    damage = [f"{name}: {msg.strip()}" for level, name, msg in logs if level <= av.logging.ERROR or "corrupt" in msg]
    if damage:
        raise MediaError(
            f"{file}: truncated or corrupt, FFmpeg reported {len(damage)} problem(s) while decoding "
            f"{len(frames.times)} video frames, first: {damage[0]}"
        )
    return {"video": video, "frames": frames, "chunks": chunks, "audio": audio, "audio_start": audio_start}


def _source_fps(file: Path, video: av.video.stream.VideoStream, times: list[float]) -> float:
    """The header's frame rate when it agrees with the timestamps within 1%, else the measured mean rate."""
    header = _rate(video)
    measured = (len(times) - 1) / times[-1] if len(times) > 1 and times[-1] > 0 else None
    if header and (measured is None or abs(header - measured) <= 0.01 * measured):
        return header
    if measured is None:
        raise MediaError(f"{file}: cannot tell the frame rate (no rate in the header and a single frame)")
    return measured


def _check_vfr(file: Path, times: list[float], fps: float, slack: float) -> None:
    """Refuse variable frame rate when the native timing is kept (``fps=None``)."""
    intervals, nominal = np.diff(np.asarray(times)), 1.0 / fps
    if len(intervals) and np.max(np.abs(intervals - nominal)) > VFR_TOLERANCE * nominal + slack + 1e-9:
        raise MediaError(
            f"{file}: variable frame rate (frame intervals {intervals.min() * 1e3:.2f}..{intervals.max() * 1e3:.2f} ms,"
            f" nominal {nominal * 1e3:.2f} ms, tolerance {VFR_TOLERANCE:.0%}); pass fps=... to resample it by timestamps"
        )


def _check_complete(file: Path, video: av.video.stream.VideoStream, times: list[float], interval: float) -> None:
    """Refuse a video stream that ends before what its own header declares (frame count or duration)."""
    if not times:
        raise MediaError(f"{file}: zero video frames decoded (empty video stream)")
    declared = int(video.frames or 0)
    if declared and len(times) < declared:
        raise MediaError(f"{file}: truncated, decoded {len(times)} of the {declared} frames the container declares")
    duration = _declared_duration(video)
    if duration is not None:
        decoded = times[-1] + interval
        if decoded < duration - max(2 * interval, 0.05 * duration):
            raise MediaError(f"{file}: truncated, video decodes to {decoded:.2f} s but the stream declares {duration:.2f} s")


def _declared_duration(video: av.video.stream.VideoStream) -> float | None:
    """The video stream's own duration: from the stream header, else Matroska's per-track ``DURATION`` tag."""
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    tag = video.metadata.get("DURATION") or video.metadata.get("duration")
    try:
        hours, minutes, seconds = str(tag).split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:  # absent or not HH:MM:SS.f
        return None


def _mono(file: Path, chunks: list[np.ndarray], shift: float, native_rate: int, sample_rate: int | None) -> np.ndarray:
    """Join decoded audio chunks, average the channels, align to the video start and resample."""
    channels = chunks[0].shape[0]
    if any(c.shape[0] != channels for c in chunks):
        raise MediaError(f"{file}: the audio channel count changes mid-stream")
    data = np.concatenate(chunks, axis=1)
    mono = data[0] if channels == 1 else data.mean(axis=0, dtype=np.float64)
    mono = np.asarray(mono, dtype=np.float32)
    offset = int(round(shift * native_rate))
    if offset > 0:  # audio starts after the first video frame: silence before it
        mono = np.concatenate([np.zeros(offset, np.float32), mono])
    elif offset < 0:  # audio starts before the first video frame: drop what precedes it
        mono = mono[-offset:]
    if sample_rate is not None and sample_rate != native_rate:
        import soxr

        mono = soxr.resample(mono, native_rate, sample_rate, quality="HQ").astype(np.float32, copy=False)
        np.clip(mono, -1.0, 1.0, out=mono)  # band-limiting can overshoot full scale by a few percent
    return mono


def read_clip(
    path: str | os.PathLike[str],
    fps: float | None = 25.0,
    sample_rate: int | None = 16000,
    require_audio: bool = False,
) -> Clip:
    """Read a video file (mp4, mpg, avi, mkv, mov: anything FFmpeg reads) into a :class:`Clip`.

    Args:
        path: the media file.
        fps: output frame rate, converted by timestamps (nearest earlier frame); None keeps the native rate and
            refuses variable frame rate.
        sample_rate: output audio rate (soxr HQ resampling); None keeps the native rate.
        require_audio: raise when the file has no audio instead of returning ``audio=None``.

    Raises:
        FileNotFoundError: the file does not exist.
        MediaError: not a media file, truncated or corrupt, no video stream, no audio when required, zero frames,
            or variable frame rate with ``fps=None``. The message names the file.
    """
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"{path}: fps must be positive or None, got {fps}")
    if sample_rate is not None and sample_rate <= 0:
        raise ValueError(f"{path}: sample_rate must be positive or None, got {sample_rate}")
    file, container = _open(path)
    with container:
        if not container.streams.video:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
            raise MediaError(f"{file}: no video stream (the file has {kinds})")
        if require_audio and not container.streams.audio:
            raise MediaError(f"{file}: no audio stream, but audio is required")
        got = _decode(file, container, fps)
    video, collected = got["video"], got["frames"]
    _check_complete(file, video, collected.times, 1.0 / (_rate(video) or 25.0))
    source_fps = _source_fps(file, video, collected.times)
    if fps is None:
        _check_vfr(file, collected.times, source_fps, collected.slack)
    frames = collected.finish(1.0 / source_fps)
    meta: dict[str, Any] = dict(path=str(file), codec=video.codec_context.name, source_fps=source_fps)
    meta.update(source_frames=len(collected.times), source_size=(video.height, video.width), source_sample_rate=None)
    audio = None
    out_rate = sample_rate or 16000
    if got["audio"] is not None and not got["chunks"] and require_audio:
        raise MediaError(f"{file}: the audio stream holds no samples, but audio is required")
    if got["chunks"]:
        stream = got["audio"]
        native_rate = int(stream.rate)
        shift = got["audio_start"] - (collected.t0 or 0.0) if got["audio_start"] is not None else 0.0
        audio = _mono(file, got["chunks"], shift, native_rate, sample_rate)
        out_rate = sample_rate or native_rate
        meta.update(source_sample_rate=native_rate, audio_codec=stream.codec_context.name, audio_offset=shift)
    return Clip(frames, float(fps or source_fps), audio, out_rate, meta)


def probe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe a media file from its headers without decoding: format, duration and per-stream facts.

    Frame counts and durations are what the container declares (None when it does not say; MPEG-PS and Matroska
    often do not), so use :func:`read_clip` when the exact count matters.
    """
    file, container = _open(path)
    with container:
        streams: list[dict[str, Any]] = []
        for s in cast(list[Any], list(container.streams)):  # typed as the Stream base; video and audio differ
            info: dict[str, Any] = {"index": s.index, "type": s.type, "codec": s.codec_context.name}
            if s.duration and s.time_base:
                info["duration"] = float(s.duration * s.time_base)
            if s.type == "video":
                info.update(width=s.width, height=s.height, fps=_rate(s), frames=int(s.frames) or None)
            elif s.type == "audio":
                info.update(sample_rate=s.rate, channels=s.channels, frames=int(s.frames) or None)
            streams.append(info)
        duration = container.duration / 1e6 if container.duration else None
        return {"path": str(file), "format": container.format.name, "duration": duration, "streams": streams}


# ----------------------------------------------------------------------------------------------------- writing
def _video_stream(
    container: av.container.OutputContainer, clip: Clip, rate: Fraction, ext: str, lossless: bool
) -> av.video.stream.VideoStream:
    """Add the video stream: FFV1/bgr0 or libx264rgb qp 0 when lossless, H.264 yuv420p otherwise."""
    height, width = clip.size
    if lossless and ext in (".mp4", ".mov"):
        stream = container.add_stream("libx264rgb", rate=rate, options={"qp": "0", "preset": "fast"})
        stream.pix_fmt = "rgb24"
    elif lossless:
        stream = container.add_stream("ffv1", rate=rate)
        stream.pix_fmt = "bgr0"
    else:
        stream = container.add_stream("libx264", rate=rate, options={"crf": "18", "preset": "fast"})
        stream.pix_fmt = "yuv420p"
    stream.width, stream.height = width, height
    return stream


def _audio_frames(clip: Clip, lossless: bool) -> Iterator[av.AudioFrame]:
    """The clip's audio as encoder frames of :data:`_AUDIO_CHUNK` samples, timestamped in samples."""
    assert clip.audio is not None
    fmt = "flt" if lossless else "fltp"
    samples = np.ascontiguousarray(clip.audio, dtype=np.float32)
    for start in range(0, len(samples), _AUDIO_CHUNK):
        frame = av.AudioFrame.from_ndarray(samples[None, start : start + _AUDIO_CHUNK], format=fmt, layout="mono")
        frame.sample_rate = clip.sample_rate
        frame.pts, frame.time_base = start, Fraction(1, clip.sample_rate)
        yield frame


def write_clip(path: str | os.PathLike[str], clip: Clip, lossless: bool = True) -> Path:
    """Write ``clip`` to ``path`` (container from the extension) atomically and return the path.

    Lossless (default): FFV1 in .mkv/.avi, RGB H.264 qp 0 in .mp4/.mov, float PCM audio; the round trip through
    :func:`read_clip` (same fps, ``sample_rate=None``) is bit-exact. ``lossless=False``: H.264 yuv420p (crf 18) +
    AAC in .mp4/.mkv/.mov, for viewing and sharing; frame sizes must then be even.
    """
    target = Path(path)
    ext = target.suffix.lower()
    allowed = _FORMATS if lossless else {e: _FORMATS[e] for e in _LOSSY_FORMATS}
    if ext not in allowed:
        kind = "lossless" if lossless else "H.264+AAC"
        raise MediaError(f"{target}: cannot write {kind} video to '{ext}', use one of {', '.join(sorted(allowed))}")
    if clip.num_frames == 0:
        raise MediaError(f"{target}: cannot write {clip.name}, it has zero frames")
    if not lossless and (clip.size[0] % 2 or clip.size[1] % 2):
        raise MediaError(f"{target}: H.264 yuv420p needs even frame sizes, got {clip.size} (H, W); write lossless")
    rate = Fraction(clip.fps).limit_denominator(1001000)
    has_audio = clip.audio is not None and len(clip.audio) > 0
    options = {"movflags": "+faststart"} if ext in (".mp4", ".mov") else {}  # index first: truncation is detectable
    with atomic_path(target) as tmp, av.open(str(tmp), "w", format=allowed[ext], options=options) as container:
        video = _video_stream(container, clip, rate, ext, lossless)
        audio = None
        if has_audio:
            codec = "pcm_f32le" if lossless else "aac"
            audio = container.add_stream(codec, rate=clip.sample_rate, layout="mono")
        chunks = list(_audio_frames(clip, lossless)) if has_audio else []
        done = 0
        for i, rgb in enumerate(clip.frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts, frame.time_base = i, 1 / rate
            container.mux(video.encode(frame))
            while audio is not None and done < len(chunks) and (chunks[done].pts or 0) < (i + 1) * clip.sample_rate / clip.fps:
                container.mux(audio.encode(chunks[done]))  # interleave audio up to the end of this frame
                done += 1
        container.mux(video.encode(None))
        if audio is not None:
            for chunk in [*chunks[done:], None]:
                container.mux(audio.encode(chunk))
    return target
