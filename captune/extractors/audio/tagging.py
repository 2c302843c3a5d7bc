"""Genre and mood/theme tags from the Essentia MTG-Jamendo models (optional, needs essentia-tensorflow).

The models are the ones MidiCaps used, from the Essentia models site
(https://essentia.upf.edu/models.html), all in one folder ``models_dir``:

- ``discogs-effnet-bs64-1.pb``: the Discogs-EffNet embedding model, run by
  essentia's ``TensorflowPredictEffnetDiscogs`` on 16 kHz mono audio (mel
  patches of 128 frames, one every 62 frames: about one embedding of 1280
  values per second); its optional ``discogs-effnet-bs64-1.json``;
- ``mtg_jamendo_moodtheme-discogs-effnet-1.pb`` (56 mood/theme classes) and
  ``mtg_jamendo_genre-discogs-effnet-1.pb`` (87 genre classes), run by
  ``TensorflowPredict2D`` on those embeddings, each with its ``.json`` metadata
  (required: its ``classes`` list names the outputs).

Node names come from each json's ``schema`` when it states them (the first
input; the output whose ``output_purpose`` is ``embeddings`` for the embedding
model, ``predictions`` for a head), else the published defaults: input
``serving_default_melspectrogram``, output ``PartitionedCall:1`` (embeddings)
for the embedding model; ``model/Placeholder`` and ``model/Sigmoid`` for the
heads.

:func:`tags` resamples :class:`Audio` to 16 kHz (essentia ``Resample``,
quality 1, as ``MonoLoader``), averages each head's sigmoid activations over
the embeddings (time), and keeps MidiCaps' choice of tags: the ``MAX_TAGS``
strongest classes whose mean activation exceeds ``THRESHOLD`` (genre: at most
4 above 0.05; mood: at most 5 above 0.02, as MidiCaps' ``pipeline.py``),
strongest first. These are MidiCaps' numbers, not calibrated here (the weights
were not at hand); ``tags(..., max_tags=, threshold=)`` and :func:`activations`
allow others. Tag names are lowercased, without a ``genre---`` /
``mood/theme---`` prefix, with the run-on MTG-Jamendo names spelled out for
captions (``hiphop`` → ``hip hop``, ``drumnbass`` → ``drum and bass``, see
``DISPLAY``). A signal shorter than one mel patch (about 2.1 s) is repeated to
fill one; an empty one gets no tags.

Models load once per (folder, process) and are kept for the life of the
process (:func:`load_count` counts the loads); a lock serialises calls on one
set of models, as essentia algorithms keep state. Loading counts against
the first item's time limit in a worker.

A folder without the files, unreadable metadata, a graph TensorFlow cannot
load, or an essentia built without TensorFlow (plain ``essentia`` rather than
``essentia-tensorflow``) raise :class:`TaggingUnavailable`, a
:class:`~captune.extractors.errors.BadInput` (``stage='extract'``) with reason
``no_tensorflow``, ``no_tagging_models`` or ``bad_tagging_model`` and a
sentence saying what to do. :func:`check` raises the same before a run.

Installing: ``essentia-tensorflow`` ships the same ``essentia`` package files
as plain ``essentia`` (plus libtensorflow); whichever pip installs last wins.
One ``pip install`` of both (an extra next to the ``essentia`` dependency)
installs plain ``essentia`` last, without TensorFlow; install
``essentia-tensorflow`` afterwards in its own step (``--force-reinstall
--no-deps`` if it is already there).
"""

import json
import os
import threading
from dataclasses import dataclass, field

import essentia.standard as es
import numpy as np

from captune.extractors.audio.decode import Audio
from captune.extractors.errors import BadInput

MODEL_SR = 16000
EMBEDDING_MODEL = "discogs-effnet-bs64-1"
HEAD_MODELS = {"genre": "mtg_jamendo_genre-discogs-effnet-1", "mood": "mtg_jamendo_moodtheme-discogs-effnet-1"}
MODEL_FILES = (f"{EMBEDDING_MODEL}.pb",) + tuple(f"{name}{ext}" for name in HEAD_MODELS.values() for ext in (".pb", ".json"))
EMBEDDING_INPUT, EMBEDDING_OUTPUT = "serving_default_melspectrogram", "PartitionedCall:1"
HEAD_INPUT, HEAD_OUTPUT = "model/Placeholder", "model/Sigmoid"
MAX_TAGS = {"genre": 4, "mood": 5}
THRESHOLD = {"genre": 0.05, "mood": 0.02}
# one mel patch: 128 frames of 512 samples, hop 256, at 16 kHz, with a margin
PATCH_SAMPLES = 128 * 256 + 512 + 256
PREFIXES = ("genre---", "mood/theme---", "mood---", "theme---")
DISPLAY = {  # MTG-Jamendo's run-on tag names, as a caption writes them
    "acidjazz": "acid jazz", "alternativerock": "alternative rock", "bluesrock": "blues rock",
    "bossanova": "bossa nova", "classicrock": "classic rock", "darkambient": "dark ambient",
    "deephouse": "deep house", "drumnbass": "drum and bass", "easylistening": "easy listening",
    "hardrock": "hard rock", "hiphop": "hip hop", "instrumentalpop": "instrumental pop",
    "instrumentalrock": "instrumental rock", "jazzfusion": "jazz fusion", "newage": "new age",
    "newwave": "new wave", "popfolk": "pop folk", "poprock": "pop rock", "postrock": "post-rock",
    "punkrock": "punk rock", "rnb": "r&b", "rocknroll": "rock and roll",
    "singersongwriter": "singer-songwriter", "synthpop": "synth-pop", "triphop": "trip hop",
    "worldfusion": "world fusion",
}
INSTALL_HINT = "pip install essentia-tensorflow (same version as essentia)"

_LOADED: dict = {}  # realpath of models_dir -> _Models
_LOCK = threading.Lock()
_loads = 0


class TaggingUnavailable(BadInput):
    """The tagging models cannot run: no TensorFlow in essentia, missing or unreadable model files."""

    def __init__(self, reason: str, detail: str, stage: str = "extract"):
        super().__init__(reason, detail, stage)

    def __reduce__(self):  # stays this class across process boundaries
        return TaggingUnavailable, (self.reason, self.detail, self.stage)


@dataclass
class _Head:
    classes: list
    model: object


@dataclass
class _Models:
    embedding: object
    heads: dict
    lock: threading.Lock = field(default_factory=threading.Lock)


def tensorflow_available() -> bool:
    """Whether this essentia has the TensorFlow algorithms (the ``essentia-tensorflow`` build)."""
    return hasattr(es, "TensorflowPredict2D") and hasattr(es, "TensorflowPredictEffnetDiscogs")


def load_count() -> int:
    """How many times this process has loaded a set of tagging models."""
    return _loads


def tag_name(label: str) -> str:
    """``'genre---hiphop'`` → ``'hip hop'``: the caption word(s) for a class name of the metadata."""
    name = label.strip().lower()
    for prefix in PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return DISPLAY.get(name, name.replace("_", " "))


def _read_json(path: str, required: bool) -> dict | None:
    if not os.path.exists(path):
        if required:
            raise TaggingUnavailable("no_tagging_models", f"{path} is missing: it names the model's classes")
        return None
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as exc:
        raise TaggingUnavailable("bad_tagging_model", f"cannot read {path}: {exc}") from None
    if not isinstance(meta, dict):
        raise TaggingUnavailable("bad_tagging_model", f"{path} is not a JSON object")
    return meta


def _node_names(meta: dict | None, purpose: str, default_in: str, default_out: str) -> tuple[str, str]:
    """(input, output) node names from a model json's ``schema``, else the defaults."""
    schema = (meta or {}).get("schema") or {}
    inputs, outputs = schema.get("inputs") or [], schema.get("outputs") or []
    name_in = next((i["name"] for i in inputs if isinstance(i, dict) and i.get("name")), default_in)
    name_out = next((o["name"] for o in outputs if isinstance(o, dict) and o.get("name")
                     and o.get("output_purpose") == purpose), default_out)
    return name_in, name_out


def _algorithm(make, path: str, **params):
    try:
        return make(graphFilename=path, **params)
    except Exception as exc:  # essentia raises RuntimeError; anything else means the same: it cannot load
        raise TaggingUnavailable("bad_tagging_model", f"TensorFlow cannot load {path}: {exc}") from None


def _files(models_dir: str) -> None:
    """``TaggingUnavailable`` unless essentia has TensorFlow and ``models_dir`` holds every file."""
    if not tensorflow_available():
        raise TaggingUnavailable("no_tensorflow", "this essentia has no TensorFlow support (no TensorflowPredict2D): "
                                                  f"{INSTALL_HINT}")
    if not os.path.isdir(models_dir):
        raise TaggingUnavailable("no_tagging_models", f"{models_dir} is not a folder")
    missing = [name for name in MODEL_FILES if not os.path.isfile(os.path.join(models_dir, name))]
    if missing:
        raise TaggingUnavailable("no_tagging_models", f"{models_dir} lacks {', '.join(missing)} (download them from "
                                                      "https://essentia.upf.edu/models.html)")


def _load(models_dir: str) -> _Models:
    global _loads
    _files(models_dir)
    base = os.path.join(models_dir, EMBEDDING_MODEL)
    name_in, name_out = _node_names(_read_json(base + ".json", required=False), "embeddings",
                                    EMBEDDING_INPUT, EMBEDDING_OUTPUT)
    embedding = _algorithm(es.TensorflowPredictEffnetDiscogs, base + ".pb", input=name_in, output=name_out)
    heads = {}
    for kind, name in HEAD_MODELS.items():
        base = os.path.join(models_dir, name)
        meta = _read_json(base + ".json", required=True)
        classes = meta.get("classes")
        if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
            raise TaggingUnavailable("bad_tagging_model", f"{base}.json has no 'classes' list of names")
        name_in, name_out = _node_names(meta, "predictions", HEAD_INPUT, HEAD_OUTPUT)
        heads[kind] = _Head([tag_name(c) for c in classes],
                            _algorithm(es.TensorflowPredict2D, base + ".pb", input=name_in, output=name_out))
    _loads += 1
    return _Models(embedding, heads)


def load(models_dir: str) -> _Models:
    """The models of ``models_dir``, loaded on the first call in this process (see module doc)."""
    key = os.path.realpath(models_dir)
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(models_dir)
        return _LOADED[key]


def check(models_dir: str) -> None:
    """Load the models of ``models_dir`` now; ``TaggingUnavailable`` with the reason if they cannot run."""
    load(models_dir)


def _pick(activations: np.ndarray, classes: list, max_tags: int, threshold: float) -> list[str]:
    order = sorted(range(len(classes)), key=lambda i: (-float(activations[i]), i))[:max_tags]
    picked = []
    for i in order:
        if activations[i] > threshold and classes[i] not in picked:
            picked.append(classes[i])
    return picked


def to_model_rate(audio: Audio) -> np.ndarray:
    """``audio``'s samples at 16 kHz, float32 (essentia ``Resample``, quality 1)."""
    samples = np.ascontiguousarray(audio.samples, dtype=np.float32)
    if audio.sr == MODEL_SR or len(samples) == 0:
        return samples
    resampled = es.Resample(inputSampleRate=float(audio.sr), outputSampleRate=float(MODEL_SR), quality=1)(samples)
    return np.ascontiguousarray(resampled, dtype=np.float32)


def activations(audio: Audio, models_dir: str) -> dict:
    """``{'genre': array, 'mood': array}``: each head's mean activation per class, in the metadata's order
    (None for an empty signal). For thresholds of one's own; :func:`tags` picks the tags."""
    models = load(models_dir)
    signal = to_model_rate(audio)
    if len(signal) == 0:
        return {kind: None for kind in models.heads}
    if len(signal) < PATCH_SAMPLES:  # shorter than one mel patch: repeat it to fill one
        signal = np.resize(signal, PATCH_SAMPLES)
    with models.lock:
        embeddings = np.asarray(models.embedding(signal), dtype=np.float32)
        if embeddings.ndim != 2 or len(embeddings) == 0:
            return {kind: None for kind in models.heads}
        out = {}
        for kind, head in models.heads.items():
            predictions = np.asarray(head.model(embeddings), dtype=np.float64)
            if predictions.ndim != 2 or predictions.shape[1] != len(head.classes):
                raise TaggingUnavailable("bad_tagging_model", f"the {kind} model gives {predictions.shape[-1]} "
                                                              f"outputs for {len(head.classes)} classes")
            out[kind] = predictions.mean(axis=0)
    return out


def tags(audio: Audio, models_dir: str, *, max_tags: dict | None = None, threshold: dict | None = None) -> dict:
    """``{'genre': [...], 'mood': [...]}``: the tags of ``audio`` (any ``sr``), strongest first.

    At most ``max_tags[kind]`` classes whose mean activation exceeds ``threshold[kind]`` (defaults
    ``MAX_TAGS``, ``THRESHOLD``: MidiCaps'); a list may be empty. Raises :class:`TaggingUnavailable`
    (see module doc) when the models cannot run.
    """
    max_tags, threshold = {**MAX_TAGS, **(max_tags or {})}, {**THRESHOLD, **(threshold or {})}
    models = load(models_dir)
    means = activations(audio, models_dir)
    return {kind: [] if means[kind] is None else
            _pick(means[kind], models.heads[kind].classes, max_tags[kind], threshold[kind])
            for kind in models.heads}
