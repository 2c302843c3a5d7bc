"""Emotion of a piece from its extracted facts: valence, arousal, quadrant and mood words.

Conventions
-----------
- ``valence`` and ``arousal`` are floats in [-1, 1] (Russell's circumplex: valence
  unpleasant → pleasant, arousal calm → excited); 0 is the neutral point.
- ``emotion_quadrant`` follows EMOPIA: 1 = +V+A, 2 = −V+A, 3 = −V−A, 4 = +V−A; a value
  of exactly 0 counts as positive.
- ``mood``: one to three lowercase English adjectives for captions, chosen from the
  quadrant and the distance from neutral (:func:`mood_words`).
- Works on the facts dict of :func:`captune.extractors.midi.extract` or
  :func:`captune.extractors.audio.extract` only (no notes or samples, no Beam), so it
  costs a few microseconds per item.

Features (:func:`features`), from the facts; a missing fact gives None, which a model
treats as its centre (no evidence either way):

======================  =====================================================================
``mode``                +1 major, −1 minor, 0 no key, times ``key_confidence`` (so a weakly
                        tonal piece counts less): mode and its clarity
``log2_tempo``          log2 of ``tempo_bpm``
``log2_density``        log2 of ``note_stats.note_density`` (notes per second)
``log2_events``         log2 of ``note_stats.onset_density`` (onset events per second: a
                        chord is one event, so a thick texture is not more active)
``velocity``            ``note_stats.mean_velocity`` (MIDI 1–127), the loudness of MIDI
``pitch_mean``          ``note_stats.pitch_mean`` (MIDI note number), register
``pitch_range``         ``pitch_max − pitch_min`` in semitones
``polyphony``           ``note_stats.polyphony`` (texture thickness)
``legato``              ``note_stats.legato`` (1 legato, about 0.5 staccato), articulation
``loudness``            ``loudness_lufs`` (EBU R128 integrated, LUFS): audio and rendered MIDI
``log2_brightness``     log2 of ``audio_stats.spectral_centroid_hz``: timbral brightness
``dynamics``            ``audio_stats.dynamic_complexity_db``: loudness fluctuation (dB)
``key_clarity``         ``key_confidence`` of a symbolic piece: the key finder's Pearson r with
                        the best key profile (tonal clarity; low for chromatic/atonal music)
``dissonance``          share of the chord seconds (``chords``, ``N`` left out) on ``dim``,
                        ``m7b5`` and ``aug`` chords
======================  =====================================================================

``velocity`` is None when the facts say ``dynamics_known`` False (a score with no dynamics
marks, whose velocities are all the MIDI writer's default).

For audio (facts without ``note_stats``), ``log2_density`` and ``log2_events`` read
``audio_stats.onset_rate`` (onsets per second), the event density of a recording, and
velocity, register, range and articulation count as neutral, and so does ``key_clarity``:
the audio key finder's chroma strength is not on the symbolic r's scale, whose centre 0.8
below is calibrated for the symbolic finder. Symbolic items use the note features only,
also when rendered (``--render-midi``): a soundfont's level and timbre say nothing about
the piece.

The default model
-----------------
A linear combination of standardised features through ``tanh`` (:data:`DEFAULT_MODEL`).
Every term and its sign come from reviews of the music-emotion literature; centres and
scales are conventional musical values (moderato 100 bpm, *mezzo forte* velocity 64,
middle C, ...), not statistics of a corpus. Weights are in "tanh units" per scale step.
All sizes are the literature's rough relative sizes, except two weights of the valence
head, fitted (maximum likelihood within the sign the literature gives them, intercept 0,
every other term fixed) on the even-indexed half of VGMIDI's 204 labelled phrases (sorted by
path) and checked on the odd-indexed half (``benchmarks/emotion.py --tune-half even``): the
``key_clarity`` weight (fitted 0.379, rounded 0.38) and the ``dissonance`` weight (fitted 0 at
its bound: VGMIDI's raters do not hear the share of diminished/augmented chords as
unpleasant once mode and clarity are known).

Valence (pleasant ↔ unpleasant):

- intercept 0 — no positivity offset. A piece at every conventional centre (moderato,
  middle register, no mode, a scale used evenly) is neutral. Until this version the
  intercept was +0.7, a positivity offset fitted on VGMIDI, whose raters call 68% of its
  phrases positive; it made 88–99% of POP909, Nottingham and DCML pleasant, minor keys
  included, which is VGMIDI's prior, not evidence in the music. Without it VGMIDI's
  held-out valence accuracy drops (README, Measured), the price of not assuming that all
  music is pleasant.
- ``key_clarity`` +0.38 per 0.1 of r above 0.8 (negative below) — tonal music reads as
  pleasant, chromatic/atonal music as unpleasant (Gabrielsson & Lindström 2010, Table 14.2:
  tonal with joy and peace, atonal with anger, chromatic with sadness and anger); key
  clarity is a positive valence predictor in audio-feature models of rated emotion
  (Eerola, Lartillot & Toiviainen 2009). The centre 0.8 is the r of a piece that uses the
  seven notes of a diatonic scale equally (0.808 with the default Albrecht–Shanahan
  profile), i.e. tonal but with no tonal hierarchy; the size is the even-half fit.
- ``dissonance`` 0 (the even-half fit at its bound; negative is the literature's sign:
  dissonant harmony with unpleasantness, Gabrielsson & Lindström 2010) — the share of the
  chord time on diminished, half-diminished and augmented chords; kept as a feature for
  trained models.
- ``mode`` +0.9 — major is happy/pleasant, minor sad/unpleasant: the most consistent
  structural cue for valence (Hevner 1935; Gabrielsson & Lindström 2010, Table 14.2;
  Eerola, Friberg & Bresin 2013, where mode is the strongest valence cue). Ferreira &
  Whitehead 2019 (VGMIDI) note the same major/minor pattern among their raters.
- ``log2_tempo`` +0.3 — fast tempo goes with happiness, slow with sadness
  (Gabrielsson & Lindström 2010; Juslin & Laukka 2004, Table 3); a secondary valence cue,
  though tempo sways happy–sad judgements as much as mode does (Gagnon & Peretz 2003).
- ``pitch_mean`` +0.25 — high register reads as happy/bright, low as sad/dark
  (Gabrielsson & Lindström 2010; Juslin & Laukka 2004; Huron 2008 on low pitch and sadness).
- ``legato`` −0.15 — staccato goes with happiness, legato with sadness and tenderness
  (Juslin 2001; Juslin & Laukka 2004).

Arousal (calm ↔ excited):

- ``log2_tempo`` +0.6 — tempo is the strongest arousal cue (Gabrielsson & Lindström 2010;
  Juslin & Laukka 2004; Schubert 2004).
- ``log2_events`` +0.5 — more events per second, more activity (Eerola, Friberg & Bresin
  2013, "event density"; Schubert 2004; Ferreira & Whitehead 2019 on note density in VGMIDI).
  Events, not notes: a chord sung by four voices is one event, as an onset detector hears it
  in audio, so the thickness of the texture (``polyphony``, no direction in the literature)
  does not count as activity. Until this version the term read ``log2_density`` (notes per
  second, centre 5), which made 27 of the demo's 30 Bach chorales high-arousal ("joyful" or "tense"): four
  voices in quarter notes at the 120 bpm a score without a tempo mark is played at are
  8 notes but 2 events per second. The centre, 10/3 events per second, is a stream of eighth
  notes at the tempo centre (moderato 100 bpm).
- ``velocity`` +0.5 — loud is high arousal (anger, joy), soft is low (tenderness, sadness)
  (Gabrielsson & Lindström 2010; Juslin & Laukka 2004; Schubert 2004).
- ``legato`` −0.2 — staccato is more active (Juslin & Laukka 2004).
- ``pitch_range`` +0.1 — wide pitch range with activity and excitement (Gabrielsson &
  Lindström 2010).
- ``polyphony`` 0 — no consistent direction in the literature; kept as a feature for
  trained models.
- ``loudness`` +0.5 — the audio counterpart of ``velocity``: sound level is among the
  strongest arousal cues (Gabrielsson & Lindström 2010; Schubert 2004; Eerola, Friberg &
  Bresin 2013).
- ``log2_brightness`` +0.3 — a bright, sharp timbre (more high-frequency energy) goes with
  high-arousal expressions, happiness and anger; dull/soft timbre with tenderness and
  sadness (Juslin & Laukka 2004, Table 3; Gabrielsson & Lindström 2010).

And for valence, from audio: ``log2_brightness`` +0.1 (bright timbre with happiness, dark
with sadness; Juslin & Laukka 2004) and ``dynamics`` −0.15 (large, irregular sound-level
variability with fear and tension; small variability with happiness and tenderness;
Juslin & Laukka 2004; Gabrielsson & Lindström 2010).

References: K. Hevner (1935), Am. J. Psychol. 47;
J. T. Cacioppo & G. G. Berntson (1994), Psychological Bulletin 115(3); L. Gagnon &
I. Peretz (2003), Cognition and Emotion 17(1); P. N. Juslin (2001) in *Music and
Emotion*; P. N. Juslin & P. Laukka (2004), J. New Music Research 33(3); E. Schubert
(2004), Music Perception 21(4); D. Huron (2008) Empirical Musicology Review 3(2);
A. Gabrielsson & E. Lindström (2010) in *Handbook of Music and Emotion*, ch. 14;
M. Zentner, D. Grandjean & K. R. Scherer (2008), Emotion 8(4);
T. Eerola, O. Lartillot & P. Toiviainen (2009), ISMIR, "Prediction of multidimensional
emotional ratings in music from audio using multivariate regression models";
S. Kawakami, K. Furukawa, K. Katahira & K. Okanoya (2013), Frontiers in Psychology 4:311;
T. Eerola, A. Friberg & R. Bresin (2013), Frontiers in Psychology 4:487;
L. N. Ferreira & J. Whitehead (2019), ISMIR, "Learning to Generate Music with Sentiment".

Trained models (``captune train-emotion``) are the same :class:`LinearEmotionModel`
with weights fitted by scikit-learn and centres/scales from the training set, saved
as JSON (:meth:`LinearEmotionModel.to_json`), never as a pickle.
"""

from __future__ import annotations

import copy
import json
import math
from functools import lru_cache

FEATURES = ("mode", "log2_tempo", "log2_density", "log2_events", "velocity", "pitch_mean", "pitch_range", "polyphony",
            "legato", "loudness", "log2_brightness", "dynamics", "key_clarity", "dissonance")
_DISSONANT = ("dim", "aug", "m7b5")
FORMAT = "captune-emotion-linear"
LINKS = ("tanh", "logistic", "clip")  # tanh(z); 2·sigmoid(z) − 1 (a logistic regression's P(+) − P(−)); clip(z)


class ModelError(ValueError):
    """A model file or dict that is not a valid captune emotion model."""


def _num(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def features(facts: dict) -> dict:
    """The emotion features of a facts dict (see module doc); None where a fact is missing."""
    stats = facts.get("note_stats") or {}
    sound = facts.get("audio_stats") or {}
    key, confidence = facts.get("key"), facts.get("key_confidence")
    if key:
        sign = 1.0 if key.endswith("major") else -1.0 if key.endswith("minor") else 0.0
        mode = sign * (1.0 if confidence is None else float(confidence))
    else:
        mode = 0.0 if stats.get("note_count") or sound else None
    tempo = _num(facts.get("tempo_bpm"))
    density = _num(stats.get("note_density")) if stats else _num(sound.get("onset_rate"))
    events = _num(stats.get("onset_density")) if stats else _num(sound.get("onset_rate"))
    if stats:  # symbolic (rendered or not): the notes speak; a soundfont's timbre and level say nothing
        sound = {}
    centroid = _num(sound.get("spectral_centroid_hz"))
    low, high = stats.get("pitch_min"), stats.get("pitch_max")
    velocity = _num(stats.get("mean_velocity")) if facts.get("dynamics_known", True) else None
    return {
        "mode": mode,
        "log2_tempo": math.log2(tempo) if tempo and tempo > 0 else None,
        "log2_density": math.log2(density) if density and density > 0 else None,
        "log2_events": math.log2(events) if events and events > 0 else None,
        "velocity": velocity,
        "pitch_mean": _num(stats.get("pitch_mean")),
        "pitch_range": float(high - low) if low is not None and high is not None else None,
        "polyphony": _num(stats.get("polyphony")),
        "legato": _num(stats.get("legato")),
        "loudness": _num(facts.get("loudness_lufs")) if sound else None,
        "log2_brightness": math.log2(centroid) if centroid and centroid > 0 else None,
        "dynamics": _num(sound.get("dynamic_complexity_db")),
        # the symbolic key finder's r only: the audio key finder's chroma strength is on another scale
        "key_clarity": _num(confidence) if key and stats.get("note_count") else None,
        "dissonance": _dissonance(facts.get("chords")),
    }


def _dissonance(chords) -> float | None:
    """Share of the chord seconds (``N`` left out) on diminished, half-diminished and augmented
    chords; None without chords."""
    total = harsh = 0.0
    for c in chords or []:
        label, span = c.get("label") or "N", c["end_s"] - c["start_s"]
        if label == "N":
            continue
        total += span
        harsh += span * label.endswith(_DISSONANT)
    return harsh / total if total > 0 else None


class LinearEmotionModel:
    """valence = link(b_v + Σ w_v[f]·(x_f − centre_f)/scale_f), and the same for arousal.

    ``centre`` and ``scale``: per feature; ``valence`` / ``arousal``: ``{"weights": {feature:
    w}, "intercept": b, "link": "tanh" | "logistic" | "clip"}``. A feature missing from the
    item (None) contributes nothing; a feature missing from ``weights`` has weight 0.
    """

    def __init__(self, centre: dict, scale: dict, valence: dict, arousal: dict, name: str = "custom",
                 info: dict | None = None):
        self.centre, self.scale, self.name, self.info = dict(centre), dict(scale), name, dict(info or {})
        self.valence, self.arousal = self._head(valence, "valence"), self._head(arousal, "arousal")
        for f in set(self.valence["weights"]) | set(self.arousal["weights"]):
            if f not in FEATURES:
                raise ModelError(f"unknown feature {f!r}; known: {', '.join(FEATURES)}")
            if f not in self.centre or not self.scale.get(f):
                raise ModelError(f"feature {f!r} needs a centre and a non-zero scale")
        # (feature, centre, weight_v / scale, weight_a / scale) for the hot loop
        self._terms = [(f, self.centre[f], self.valence["weights"].get(f, 0.0) / self.scale[f],
                        self.arousal["weights"].get(f, 0.0) / self.scale[f])
                       for f in FEATURES if f in self.centre and self.scale.get(f)]

    @staticmethod
    def _head(head: dict, label: str) -> dict:
        try:
            weights = {str(k): float(v) for k, v in head["weights"].items()}
            link = head.get("link", "tanh")
            intercept = float(head.get("intercept", 0.0))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ModelError(f"{label}: needs weights {{feature: number}}, intercept and link ({exc})") from None
        if link not in LINKS:
            raise ModelError(f"{label}: link {link!r} is not one of {LINKS}")
        return {"weights": weights, "intercept": intercept, "link": link}

    @staticmethod
    def _apply(z: float, link: str) -> float:
        if link == "tanh":
            return math.tanh(z)
        if link == "logistic":
            return math.tanh(z / 2)  # = 2·sigmoid(z) − 1
        return min(1.0, max(-1.0, z))

    def linear(self, feats: dict) -> tuple[float, float]:
        """(z_valence, z_arousal): intercept plus weighted standardised features, before the link."""
        zv, za = self.valence["intercept"], self.arousal["intercept"]
        for f, c, wv, wa in self._terms:
            x = feats.get(f)
            if x is not None:
                d = x - c
                zv += wv * d
                za += wa * d
        return zv, za

    def predict(self, feats: dict) -> tuple[float, float]:
        """(valence, arousal) in [-1, 1] for a :func:`features` dict."""
        zv, za = self.linear(feats)
        return self._apply(zv, self.valence["link"]), self._apply(za, self.arousal["link"])

    def to_dict(self) -> dict:
        """The model as plain data (a copy: changing it leaves the model as it was)."""
        return copy.deepcopy({"format": FORMAT, "version": 1, "name": self.name, "features": list(FEATURES),
                              "centre": self.centre, "scale": self.scale, "valence": self.valence,
                              "arousal": self.arousal, "info": self.info})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.to_json() + "\n")

    @classmethod
    def from_dict(cls, spec: dict) -> "LinearEmotionModel":
        if not isinstance(spec, dict) or spec.get("format") != FORMAT:
            raise ModelError(f"not a captune emotion model (expected \"format\": \"{FORMAT}\")")
        if spec.get("version") != 1:
            raise ModelError(f"unsupported emotion model version {spec.get('version')!r}")
        try:
            return cls(spec["centre"], spec["scale"], spec["valence"], spec["arousal"], spec.get("name", "custom"),
                       spec.get("info"))
        except KeyError as exc:
            raise ModelError(f"emotion model lacks {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> "LinearEmotionModel":
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"emotion model is not JSON: {exc}") from None
        return cls.from_dict(spec)

    @classmethod
    def load(cls, path: str) -> "LinearEmotionModel":
        with open(path, encoding="utf-8") as fh:
            return cls.from_json(fh.read())


# Centres and scales: conventional musical values (see module doc), not corpus statistics.
DEFAULT_MODEL = LinearEmotionModel(
    centre={"mode": 0.0, "log2_tempo": math.log2(100.0), "log2_density": math.log2(5.0),
            "log2_events": math.log2(2 * 100.0 / 60.0), "velocity": 64.0,
            "pitch_mean": 60.0, "pitch_range": 24.0, "polyphony": 2.0, "legato": 0.8,
            "loudness": -16.0, "log2_brightness": math.log2(1500.0), "dynamics": 4.0, "key_clarity": 0.8,
            "dissonance": 0.0},
    scale={"mode": 1.0,            # full-confidence major = +1
           "log2_tempo": 0.5,      # 100 → 141 bpm is one step
           "log2_density": 1.0,    # doubling the notes per second is one step
           "log2_events": 1.0,     # doubling the events per second is one step
           "velocity": 32.0,       # mf 64 → ff ~96 is one step
           "pitch_mean": 12.0,     # an octave
           "pitch_range": 12.0,    # an octave
           "polyphony": 1.0,
           "legato": 0.3,          # legato 0.8 → staccato 0.5 is one step
           "loudness": 8.0,        # LU; -16 LUFS (streaming-level master) → -8 is one step
           "log2_brightness": 1.0,  # an octave of spectral centroid
           "dynamics": 3.0,        # dB of loudness fluctuation
           "key_clarity": 0.1,     # r 0.8 (a scale used evenly) → 0.9 is one step
           "dissonance": 0.1},     # a tenth of the chord time on dim/aug chords is one step
    valence={"weights": {"mode": 0.9, "log2_tempo": 0.3, "pitch_mean": 0.25, "legato": -0.15,
                         "log2_brightness": 0.1, "dynamics": -0.15, "key_clarity": 0.38, "dissonance": 0.0},
             "intercept": 0.0, "link": "tanh"},  # no positivity offset: see module doc
    arousal={"weights": {"log2_tempo": 0.6, "log2_events": 0.5, "velocity": 0.5, "legato": -0.2,
                         "pitch_range": 0.1, "polyphony": 0.0, "loudness": 0.5, "log2_brightness": 0.3},
             "intercept": 0.0, "link": "tanh"},
    name="default", info={"source": "literature cues (captune.extractors.emotion docstring); valence weights of "
                                    "key_clarity and dissonance fitted within their signs, intercept 0, on the "
                                    "even half of VGMIDI's labelled phrases"},
)


def default_model(feats: dict) -> tuple[float, float]:
    """(valence, arousal) of the literature-based default model for a :func:`features` dict."""
    return DEFAULT_MODEL.predict(feats)


def quadrant(valence: float, arousal: float) -> int:
    """EMOPIA quadrant: 1 = +V+A, 2 = −V+A, 3 = −V−A, 4 = +V−A (0 counts as positive)."""
    if arousal >= 0:
        return 1 if valence >= 0 else 2
    return 3 if valence < 0 else 4


# Primary word per quadrant; a second word when the point is far from neutral on one axis.
_PRIMARY = {1: "joyful", 2: "tense", 3: "melancholic", 4: "serene"}
_STRONG_AROUSAL = {1: "energetic", 2: "agitated", 3: "somber", 4: "calm"}
_STRONG_VALENCE = {1: "cheerful", 2: "dark", 3: "sad", 4: "tender"}
STRONG = 0.5    # |value| beyond which a second word is added
NEUTRAL = 0.1   # both |v| and |a| below this: "gentle" (no clear emotion)


def mood_words(valence: float, arousal: float, facts: dict | None = None) -> list[str]:
    """One to three mood adjectives for a caption.

    The quadrant's word (joyful, tense, melancholic, serene); the arousal word when
    |arousal| > 0.5 (energetic, agitated, somber, calm), else the valence word when
    |valence| > 0.5 (cheerful, dark, sad, tender); "playful" for a joyful piece played
    staccato (``note_stats.legato`` < 0.6: staccato with happiness, Juslin 2001).
    A point within 0.1 of neutral on both axes is just "gentle".
    """
    if abs(valence) < NEUTRAL and abs(arousal) < NEUTRAL:
        return ["gentle"]
    q = quadrant(valence, arousal)
    words = [_PRIMARY[q]]
    if abs(arousal) > STRONG:
        words.append(_STRONG_AROUSAL[q])
    elif abs(valence) > STRONG:
        words.append(_STRONG_VALENCE[q])
    legato = ((facts or {}).get("note_stats") or {}).get("legato")
    if q == 1 and legato is not None and legato < 0.6:
        words.append("playful")
    return words


@lru_cache(maxsize=8)
def _model_from_json(text: str) -> LinearEmotionModel:
    return LinearEmotionModel.from_json(text)


def as_model(model) -> LinearEmotionModel:
    """A model from None (the default), a :class:`LinearEmotionModel`, a dict, or JSON text
    (cached, so a pipeline can pass the text with every item and parse it once per process)."""
    if model is None:
        return DEFAULT_MODEL
    if isinstance(model, LinearEmotionModel):
        return model
    if isinstance(model, dict):
        return LinearEmotionModel.from_dict(model)
    if isinstance(model, str):
        return _model_from_json(model)
    raise ModelError(f"cannot use a {type(model).__name__} as an emotion model")


def estimate(facts: dict, model=None) -> dict:
    """``{valence, arousal, emotion_quadrant, mood}`` of a facts dict; all None when a
    piece has no notes (a recording: no ``audio_stats``). ``model``: see :func:`as_model`."""
    stats = facts.get("note_stats") or {}
    if not stats.get("note_count") and not facts.get("audio_stats"):
        return {"valence": None, "arousal": None, "emotion_quadrant": None, "mood": None}
    v, a = as_model(model).predict(features(facts))
    v, a = round(v, 4) + 0.0, round(a, 4) + 0.0   # + 0.0: a tiny negative rounds to 0.0, not -0.0
    return {"valence": v, "arousal": a, "emotion_quadrant": quadrant(v, a), "mood": mood_words(v, a, facts)}
