"""GRID-grammar speech from espeak-ng, with exact word and phone timings.

espeak-ng comes as a shared library inside the PyPI package ``espeakng-loader`` and is driven here through
ctypes (synchronous mode, phoneme events on). Each word is synthesized on its own, trimmed to its voiced extent
and concatenated with known pauses, so every word boundary of the ground truth is exact and the gaps are quiet.

Determinism: espeak-ng keeps static state between calls (pitch-flutter phase) and draws noise from libc ``rand()``.
Each word is therefore synthesized by a freshly loaded library (``dlopen``/``dlclose``) after ``srand(0)``, which
makes the samples a function of the text and voice settings only. Voice variants with ``breath`` noise (e.g.
``+f2``, ``+f3``) still vary from run to run (measured: 2 distinct outputs in 30 repetitions) and are refused.
"""

from __future__ import annotations

import _ctypes
import ctypes
import functools
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

SAMPLE_RATE = 16000
"""Output sample rate of the synthetic speech."""

GRID_GRAMMAR: tuple[tuple[str, ...], ...] = (
    ("bin", "lay", "place", "set"),
    ("blue", "green", "red", "white"),
    ("at", "by", "in", "with"),
    tuple("abcdefghijklmnopqrstuvxyz"),  # GRID has no "w"
    ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    ("again", "now", "please", "soon"),
)
"""GRID sentence slots: command, colour, preposition, letter, digit, adverb."""

# espeak-ng event layout and constants (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4
_ESPEAK_RATE = 22050

# Phone classes (espeak-ng English mnemonics, stress marks removed): mouth opening target in [0, 1] and lip
# spreading in [-1, 1] (negative = rounded). Bilabials close the lips fully.
_OPEN = {"a", "aa", "a#", "A:", "A@", "aI", "aU", "aI@", "aU@", "V", "0", "O:", "O@", "OI"}
_MID = {"E", "E2", "e@", "eI", "@", "@2", "@5", "3", "3:", "oU", "o@", "@L", "I#"}
_CLOSE = {"i", "i:", "I", "I2", "i@", "u:", "U", "U@"}
_ROUNDED = {"u:", "U", "U@", "oU", "o@", "O:", "O@", "OI", "0", "w", "S", "Z", "tS", "dZ", "r"}
_SPREAD = {"i", "i:", "I", "eI", "E", "e@"}
BILABIALS = frozenset({"p", "b", "m"})
_LABIODENTAL = {"f", "v"}

_LOCK = threading.Lock()


class _Event(ctypes.Structure):
    class _Id(ctypes.Union):
        _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _Id),
    ]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Voice:
    """espeak-ng voice settings of one synthetic speaker.

    Attributes:
        name: espeak-ng voice and variant, e.g. ``"en-us+m3"``.
        rate: words per minute (80..450).
        pitch: base pitch, 0..100.
        pitch_range: intonation range, 0..100.
        gain: output amplitude scale.
    """

    name: str
    rate: int = 190
    pitch: int = 50
    pitch_range: int = 50
    gain: float = 0.7


@dataclass
class Speech:
    """One synthesized sentence at :data:`SAMPLE_RATE`.

    Attributes:
        audio: mono float32 samples.
        words: ``(word, start_s, end_s)`` for every word, in order.
        phones: ``(phone, start_s, end_s)`` espeak-ng phones without stress marks.
    """

    audio: np.ndarray
    words: list[tuple[str, float, float]] = field(default_factory=list)
    phones: list[tuple[str, float, float]] = field(default_factory=list)


def phone_shape(phone: str) -> tuple[float, float]:
    """Mouth opening target in [0, 1] and lip spreading in [-1, 1] of an espeak-ng phone."""
    p = phone.lstrip("',%=")
    if not p or p.startswith("_"):
        return 0.0, 0.0
    width = -1.0 if p in _ROUNDED else 0.6 if p in _SPREAD else 0.0
    if p in BILABIALS:
        return 0.0, 0.0
    if p in _LABIODENTAL:
        return 0.12, 0.0
    if p in _OPEN:
        return 1.0, width
    if p in _MID:
        return 0.65, width
    if p in _CLOSE:
        return 0.35, width
    if p == "w":
        return 0.15, width
    return 0.3, width


def random_sentence(rng: np.random.Generator) -> list[str]:
    """A random GRID sentence: one word from each slot of :data:`GRID_GRAMMAR`."""
    return [str(slot[rng.integers(len(slot))]) for slot in GRID_GRAMMAR]


def _library_path() -> tuple[str, bytes]:
    try:
        import espeakng_loader
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError("the synthetic corpus needs the PyPI package 'espeakng-loader'") from exc
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path().encode()


@functools.cache
def _check_variant(name: str, data_path: bytes) -> None:
    """Refuse voice variants that add breath noise: their output is not reproducible."""
    if "+" not in name:
        return
    variant = Path(data_path.decode()) / "voices" / "!v" / name.split("+", 1)[1]
    if variant.is_file() and any(line.split()[:1] == ["breath"] for line in variant.read_text().splitlines()):
        raise ValueError(f"espeak-ng voice {name!r} adds breath noise, which is not reproducible; use another variant")


def synthesize_word(word: str, voice: Voice) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """Synthesize one word with a fresh espeak-ng instance.

    Returns:
        int16 samples at 22050 Hz, and ``(phone, start_sample)`` of each phone event.
    """
    lib_path, data_path = _library_path()
    _check_variant(voice.name, data_path)
    chunks: list[np.ndarray] = []
    phones: list[tuple[str, int]] = []

    def on_audio(wav: ctypes.Array, count: int, events: ctypes.Array) -> int:
        if count > 0:
            chunks.append(np.ctypeslib.as_array(wav, (count,)).copy())
        i = 0
        while events[i].type != 0:
            if events[i].type == _EVENT_PHONEME:
                phones.append((events[i].id.string.decode("ascii", "replace"), int(events[i].sample)))
            i += 1
        return 0

    callback = _Callback(on_audio)
    text = word.encode()
    with _LOCK:  # espeak-ng and libc rand() are process-global
        lib = ctypes.CDLL(lib_path)
        try:
            rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT)
            if rate != _ESPEAK_RATE:
                raise RuntimeError(f"espeak-ng failed to initialise (returned {rate}) with data at {data_path!r}")
            lib.espeak_SetSynthCallback(callback)
            if lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice.name!r}")
            for param, value in ((_PARAM_RATE, voice.rate), (_PARAM_PITCH, voice.pitch), (_PARAM_RANGE, voice.pitch_range)):
                lib.espeak_SetParameter(param, int(value), 0)
            ctypes.CDLL(None).srand(0)
            lib.espeak_Synth(text, len(text) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
            lib.espeak_Terminate()
        finally:
            _ctypes.dlclose(lib._handle)
    if not chunks:
        raise RuntimeError(f"espeak-ng produced no audio for {word!r} with voice {voice.name!r}")
    return np.concatenate(chunks), phones


def _trim(samples: np.ndarray, threshold: float = 0.02) -> tuple[int, int]:
    """First and one-past-last sample whose 5 ms envelope exceeds ``threshold`` of the peak."""
    env = np.convolve(np.abs(samples.astype(np.float32)), np.ones(110) / 110, mode="same")
    loud = np.nonzero(env > threshold * max(env.max(), 1e-9))[0]
    if loud.size == 0:
        return 0, len(samples)
    return int(loud[0]), int(loud[-1]) + 1


def synthesize_sentence(words: list[str], voice: Voice, rng: np.random.Generator, duration: float) -> Speech:
    """Speak ``words`` with pauses drawn from ``rng``, placed inside ``duration`` seconds of audio.

    The whole sentence is kept: when it does not fit, pauses shrink first, then the speaking rate rises.

    Raises:
        ValueError: if the sentence cannot fit in ``duration`` even at the fastest rate.
    """
    lead = float(rng.uniform(0.12, 0.3))
    gaps = rng.uniform(0.03, 0.1, size=max(len(words) - 1, 0))
    noise_seed = int(rng.integers(2**31))
    rate = voice.rate
    while True:
        pieces = []
        for word in words:
            samples, events = synthesize_word(word, replace(voice, rate=rate))
            start, stop = _trim(samples)
            pieces.append((word, samples[start:stop], [(p, s - start) for p, s in events], stop - start))
        speech_s = sum(p[3] for p in pieces) / _ESPEAK_RATE
        room = duration - lead - 0.12
        if speech_s + gaps.sum() <= room:
            break
        if speech_s + 0.02 * len(gaps) <= room:
            gaps = gaps * max((room - speech_s) / gaps.sum(), 0.0)
            break
        if rate >= 400:
            raise ValueError(f"sentence {' '.join(words)!r} does not fit in {duration} s even at {rate} wpm")
        rate = min(400, int(rate * 1.15) + 1)
    return _assemble(pieces, gaps, lead, duration, voice.gain, noise_seed)


def _assemble(pieces: list, gaps: np.ndarray, lead: float, duration: float, gain: float, noise_seed: int) -> Speech:
    """Concatenate trimmed words at 22050 Hz, resample to 16 kHz and add a faint noise floor."""
    total = int(round(duration * _ESPEAK_RATE))
    track = np.zeros(total, np.float32)
    words: list[tuple[str, float, float]] = []
    phones: list[tuple[str, float, float]] = []
    pos = int(round(lead * _ESPEAK_RATE))
    for i, (word, samples, events, length) in enumerate(pieces):
        track[pos : pos + length] = samples.astype(np.float32) / 32768.0
        words.append((word, pos / _ESPEAK_RATE, (pos + length) / _ESPEAK_RATE))
        starts = [min(max(s, 0), length) for _, s in events] + [length]
        for (name, _), s0, s1 in zip(events, starts[:-1], starts[1:], strict=True):
            label = name.lstrip("',%=")
            if s1 > s0 and not label.startswith("_"):
                phones.append((label, (pos + s0) / _ESPEAK_RATE, (pos + s1) / _ESPEAK_RATE))
        if i < len(gaps):
            pos += length + int(round(gaps[i] * _ESPEAK_RATE))
    audio = resample_poly(track, SAMPLE_RATE, _ESPEAK_RATE).astype(np.float32)
    audio = audio[: int(round(duration * SAMPLE_RATE))]
    peak = float(np.abs(audio).max())
    if peak > 0:
        audio *= gain / peak
    audio += np.random.default_rng(noise_seed).normal(0.0, 3e-4, audio.shape).astype(np.float32)
    return Speech(np.clip(audio, -1.0, 1.0).astype(np.float32), words, phones)
