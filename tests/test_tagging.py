"""Genre/mood tagging (captune.extractors.audio.tagging) on tiny TensorFlow graphs built here.

The real Essentia models cannot be downloaded in tests, so each test folder
gets stand-ins with the real files' names, node names and shapes, written as
frozen GraphDef protobufs by hand (wire format; no tensorflow needed):

- ``discogs-effnet-bs64-1.pb``: Placeholder ``serving_default_melspectrogram``
  [-1, 128, 96] → Mean over the 96 mel bands → MatMul with a constant 128×1280
  of 1/128 → the embedding, so every one of its 1280 values is the patch's
  mean mel value ``m`` (essentia's log-compressed mel: 0 for silence, about 3.6
  for noise of standard deviation 0.3). A node ``PartitionedCall`` (IdentityN)
  outputs (mel means, embedding), so ``PartitionedCall:1`` is the embedding, as
  in the real model.
- the heads: Placeholder ``model/Placeholder`` [-1, 1280] → MatMul with a
  constant kernel → BiasAdd → ``model/Sigmoid``. The bias makes class
  ``WINNER`` (3) the strongest (sigmoid(2) = 0.88 against sigmoid(-4) = 0.018);
  the mood head also gives class ``LOUD`` (1) weight 3/1280 per embedding
  value, a logit of 3m - 4, so it beats class 3 on noise (m ≈ 3.1 after
  resampling to 16 kHz: 0.99) and not on silence (m = 0: 0.018): the audio
  really flows through both graphs.

The tests need essentia's TensorFlow build (``essentia-tensorflow``) and are
skipped without it; the folder checks run on plain essentia too.
"""

import json
import os

import numpy as np
import pytest

import essentia.standard as es

from captune.extractors.audio import Audio
from captune.extractors.audio import tagging
from captune.extractors.audio.tagging import TaggingUnavailable
from captune.extractors.errors import BadInput

needs_tensorflow = pytest.mark.skipif(
    not hasattr(es, "TensorflowPredict2D"),
    reason="essentia without TensorFlow (TensorflowPredict2D): pip install essentia-tensorflow")

WINNER, LOUD = 3, 1
GENRES = ["genre---ambient", "genre---classical", "genre---drumnbass", "genre---hiphop", "genre---rock"]
MOODS = ["calm", "energetic", "happy", "melancholic", "relaxing", "sad"]


# --- a GraphDef writer: protobuf wire format, field numbers from tensorflow/core/framework/*.proto ---------

DT_FLOAT, DT_INT32 = 1, 3  # types.proto DataType


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 values take ten bytes, two's complement
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _int_field(number: int, value: int) -> bytes:  # wire type 0
    return _varint(number << 3) + _varint(value)


def _bytes_field(number: int, payload) -> bytes:  # wire type 2: strings, bytes, messages, packed lists
    payload = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _shape(dims) -> bytes:  # TensorShapeProto {repeated Dim dim = 2}, Dim {int64 size = 1}
    return b"".join(_bytes_field(2, _int_field(1, d)) for d in dims)


def _tensor(array: np.ndarray) -> bytes:  # TensorProto {dtype = 1, tensor_shape = 2, bytes tensor_content = 4}
    dtype = {np.float32: DT_FLOAT, np.int32: DT_INT32}[array.dtype.type]
    content = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return _int_field(1, dtype) + _bytes_field(2, _shape(array.shape)) + _bytes_field(4, content)


# AttrValue {ListValue list = 1; bytes s = 2; bool b = 5; DataType type = 6; shape = 7; tensor = 8},
# ListValue {repeated DataType type = 6 [packed]}
def _attr_type(t): return _int_field(6, t)
def _attr_bool(b): return _int_field(5, int(b))
def _attr_str(s): return _bytes_field(2, s)
def _attr_shape(dims): return _bytes_field(7, _shape(dims))
def _attr_tensor(array): return _bytes_field(8, _tensor(array))
def _attr_types(types): return _bytes_field(1, _bytes_field(6, b"".join(_varint(t) for t in types)))


def _node(name: str, op: str, inputs=(), **attrs) -> bytes:
    """NodeDef {name = 1, op = 2, repeated input = 3, map<string, AttrValue> attr = 5 (entries: key 1, value 2)}."""
    body = _bytes_field(1, name) + _bytes_field(2, op) + b"".join(_bytes_field(3, i) for i in inputs)
    return body + b"".join(_bytes_field(5, _bytes_field(1, k) + _bytes_field(2, v)) for k, v in sorted(attrs.items()))


def _graph(*nodes: bytes) -> bytes:
    """GraphDef {repeated NodeDef node = 1; VersionDef versions = 4 {int32 producer = 1}}."""
    return b"".join(_bytes_field(1, n) for n in nodes) + _bytes_field(4, _int_field(1, 27))


def _placeholder(name, dims):
    return _node(name, "Placeholder", dtype=_attr_type(DT_FLOAT), shape=_attr_shape(dims))


def _const(name, array):
    return _node(name, "Const", dtype=_attr_type({np.float32: DT_FLOAT, np.int32: DT_INT32}[array.dtype.type]),
                 value=_attr_tensor(array))


def _matmul(name, a, b):
    return _node(name, "MatMul", [a, b], T=_attr_type(DT_FLOAT), transpose_a=_attr_bool(False),
                 transpose_b=_attr_bool(False))


def embedding_graph(input_name="serving_default_melspectrogram", output_node="PartitionedCall") -> bytes:
    return _graph(
        _placeholder(input_name, [-1, 128, 96]),
        _const("bands_axis", np.array([2], np.int32)),
        _node("mel_mean", "Mean", [input_name, "bands_axis"], T=_attr_type(DT_FLOAT), Tidx=_attr_type(DT_INT32),
              keep_dims=_attr_bool(False)),
        _const("frames_mean", np.full((128, 1280), 1 / 128, np.float32)),
        _matmul("embedding", "mel_mean", "frames_mean"),
        _node(output_node, "IdentityN", ["mel_mean", "embedding"], T=_attr_types([DT_FLOAT, DT_FLOAT])),
    )


def head_graph(n_classes: int, loud_weight: float = 0.0, input_name="model/Placeholder",
               output_name="model/Sigmoid") -> bytes:
    kernel = np.zeros((1280, n_classes), np.float32)
    kernel[:, LOUD] = loud_weight / 1280
    bias = np.full(n_classes, -4.0, np.float32)
    bias[WINNER] = 2.0
    return _graph(
        _placeholder(input_name, [-1, 1280]),
        _const("model/dense/kernel", kernel),
        _const("model/dense/bias", bias),
        _matmul("model/MatMul", input_name, "model/dense/kernel"),
        _node("model/BiasAdd", "BiasAdd", ["model/MatMul", "model/dense/bias"], T=_attr_type(DT_FLOAT),
              data_format=_attr_str("NHWC")),
        _node(output_name, "Sigmoid", ["model/BiasAdd"], T=_attr_type(DT_FLOAT)),
    )


def head_json(name, classes, input_name="model/Placeholder", output_name="model/Sigmoid") -> dict:
    """Metadata shaped like the Essentia models site's."""
    return {"name": name, "type": "multi-label classifier", "classes": classes,
            "schema": {"inputs": [{"name": input_name, "type": "float", "shape": [1280]}],
                       "outputs": [{"name": output_name, "type": "float", "shape": [len(classes)], "op": "Sigmoid",
                                    "output_purpose": "predictions"},
                                   {"name": "model/dense/BiasAdd", "type": "float", "shape": [len(classes)],
                                    "op": "fully connected", "output_purpose": ""}]}}


def write_models(folder, renamed=False) -> str:
    """The three models (and the heads' metadata) in ``folder``. ``renamed``: nodes named otherwise, as the
    metadata then says, to show the names come from the json."""
    os.makedirs(folder, exist_ok=True)
    emb_in, emb_node = ("melspec_in", "Embed") if renamed else ("serving_default_melspectrogram", "PartitionedCall")
    head_in, head_out = ("head/input", "head/activations") if renamed else ("model/Placeholder", "model/Sigmoid")
    with open(os.path.join(folder, "discogs-effnet-bs64-1.pb"), "wb") as f:
        f.write(embedding_graph(emb_in, emb_node))
    if renamed:
        with open(os.path.join(folder, "discogs-effnet-bs64-1.json"), "w") as f:
            json.dump({"classes": [], "schema": {
                "inputs": [{"name": emb_in, "type": "float", "shape": [64, 128, 96]}],
                "outputs": [{"name": f"{emb_node}:0", "shape": [64, 128], "output_purpose": "predictions"},
                            {"name": f"{emb_node}:1", "shape": [64, 1280], "output_purpose": "embeddings"}]}}, f)
    for name, classes, loud in (("mtg_jamendo_genre-discogs-effnet-1", GENRES, 0.0),
                                ("mtg_jamendo_moodtheme-discogs-effnet-1", MOODS, 3.0)):
        with open(os.path.join(folder, name + ".pb"), "wb") as f:
            f.write(head_graph(len(classes), loud, head_in, head_out))
        with open(os.path.join(folder, name + ".json"), "w") as f:
            json.dump(head_json(name, classes, head_in, head_out), f)
    return str(folder)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return write_models(tmp_path_factory.mktemp("essentia-models"))


def noise(seconds: float, sr: int = 44100, scale: float = 0.3) -> Audio:
    rng = np.random.default_rng(0)
    return Audio((scale * rng.standard_normal(int(seconds * sr))).astype(np.float32), sr=sr)


def silence(seconds: float, sr: int = 44100) -> Audio:
    return Audio(np.zeros(int(seconds * sr), np.float32), sr=sr)


# --- tags from the stand-in models -------------------------------------------------------------------

@needs_tensorflow
def test_the_biased_class_wins_with_caption_names(models_dir):
    got = tagging.tags(silence(6.0), models_dir)
    # genre: class 3 'genre---hiphop', prefix stripped and spelled out; the others (0.018) fall under 0.05
    assert got["genre"] == ["hip hop"]
    # mood: class 3 first; threshold 0.02 also keeps the 0.018-strong rest out, max 5
    assert got["mood"] == ["melancholic"]
    assert set(got) == {"genre", "mood"}


@needs_tensorflow
def test_the_audio_reaches_the_heads(models_dir):
    loud = tagging.tags(noise(6.0), models_dir)
    assert loud["mood"][0] == "energetic"  # class 1: logit 3 m - 4 with m ≈ 3.1 beats class 3's bias of 2
    assert loud["mood"][:2] == ["energetic", "melancholic"]
    assert loud["genre"] == ["hip hop"]    # the genre head ignores the audio
    means = tagging.activations(noise(6.0), models_dir)
    assert means["mood"].shape == (len(MOODS),) and means["genre"].shape == (len(GENRES),)
    assert means["mood"][LOUD] > 0.97
    assert tagging.activations(silence(6.0), models_dir)["mood"][LOUD] == pytest.approx(1 / (1 + np.exp(4)), abs=1e-4)
    assert means["genre"][WINNER] == pytest.approx(1 / (1 + np.exp(-2)), abs=1e-4)


@needs_tensorflow
def test_limits_thresholds_rates_and_lengths(models_dir):
    assert tagging.tags(noise(4.0), models_dir, max_tags={"mood": 1})["mood"] == ["energetic"]
    assert tagging.tags(silence(4.0), models_dir, threshold={"genre": 0.9})["genre"] == []
    assert tagging.tags(silence(4.0), models_dir, threshold={"mood": 0.01})["mood"][0] == "melancholic"
    assert len(tagging.tags(silence(4.0), models_dir, threshold={"mood": 0.01})["mood"]) == 5  # MAX_TAGS
    # any sample rate; 16 kHz is used as it is
    assert tagging.tags(noise(4.0, sr=16000), models_dir)["mood"][0] == "energetic"
    assert tagging.tags(noise(4.0, sr=22050), models_dir)["mood"][0] == "energetic"
    # shorter than one mel patch: repeated to fill one; nothing at all: no tags
    assert tagging.tags(noise(0.5), models_dir)["mood"][0] == "energetic"
    assert tagging.tags(Audio(np.zeros(0, np.float32)), models_dir) == {"genre": [], "mood": []}
    # deterministic
    assert tagging.tags(noise(3.0), models_dir) == tagging.tags(noise(3.0), models_dir)


@needs_tensorflow
def test_node_names_come_from_the_metadata(tmp_path):
    folder = write_models(tmp_path / "renamed", renamed=True)
    assert tagging.tags(noise(3.0), folder) == {"genre": ["hip hop"], "mood": ["energetic", "melancholic"]}


@needs_tensorflow
def test_models_load_once_per_folder(models_dir):
    tagging.tags(silence(3.0), models_dir)
    before = tagging.load_count()
    tagging.tags(noise(3.0), models_dir)
    tagging.check(models_dir)
    tagging.tags(silence(3.0), os.path.join(models_dir, "."))  # the same folder, spelled otherwise
    assert tagging.load_count() == before


# --- clear errors --------------------------------------------------------------------------------------

@needs_tensorflow
def test_a_folder_missing_files_says_which(tmp_path):
    folder = write_models(tmp_path / "partial")
    os.remove(os.path.join(folder, "mtg_jamendo_genre-discogs-effnet-1.pb"))
    os.remove(os.path.join(folder, "mtg_jamendo_moodtheme-discogs-effnet-1.json"))
    with pytest.raises(TaggingUnavailable) as err:
        tagging.tags(noise(3.0), folder)
    assert isinstance(err.value, BadInput) and isinstance(err.value, ValueError)
    assert err.value.reason == "no_tagging_models" and err.value.stage == "extract"
    assert "mtg_jamendo_genre-discogs-effnet-1.pb" in err.value.detail
    assert "mtg_jamendo_moodtheme-discogs-effnet-1.json" in err.value.detail
    with pytest.raises(TaggingUnavailable, match="not a folder"):
        tagging.check(str(tmp_path / "nowhere"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TaggingUnavailable, match="discogs-effnet-bs64-1.pb"):
        tagging.check(str(empty))


@needs_tensorflow
def test_unreadable_models_and_metadata(tmp_path):
    folder = write_models(tmp_path / "bad-json")
    with open(os.path.join(folder, "mtg_jamendo_genre-discogs-effnet-1.json"), "w") as f:
        f.write('{"classes": [')
    with pytest.raises(TaggingUnavailable) as err:
        tagging.check(folder)
    assert err.value.reason == "bad_tagging_model" and "mtg_jamendo_genre-discogs-effnet-1.json" in err.value.detail
    folder = write_models(tmp_path / "bad-graph")
    with open(os.path.join(folder, "discogs-effnet-bs64-1.pb"), "wb") as f:
        f.write(b"this is not a graph")
    with pytest.raises(TaggingUnavailable) as err:
        tagging.check(folder)
    assert err.value.reason == "bad_tagging_model" and "discogs-effnet-bs64-1.pb" in err.value.detail
    folder = write_models(tmp_path / "wrong-classes")
    with open(os.path.join(folder, "mtg_jamendo_genre-discogs-effnet-1.json"), "w") as f:
        json.dump(head_json("g", GENRES[:2]), f)  # two names for five outputs
    with pytest.raises(TaggingUnavailable, match="5 outputs for 2 classes"):
        tagging.tags(noise(3.0), folder)


def test_without_tensorflow_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.delattr(es, "TensorflowPredict2D", raising=False)
    assert not tagging.tensorflow_available()
    with pytest.raises(TaggingUnavailable) as err:
        tagging.check(str(tmp_path))
    assert err.value.reason == "no_tensorflow" and "essentia-tensorflow" in err.value.detail


def test_errors_cross_process_boundaries_intact():
    import pickle
    exc = pickle.loads(pickle.dumps(TaggingUnavailable("no_tagging_models", "x lacks y")))
    assert type(exc) is TaggingUnavailable and (exc.reason, exc.detail, exc.stage) == ("no_tagging_models",
                                                                                       "x lacks y", "extract")


def test_tag_names():
    assert tagging.tag_name("genre---hiphop") == "hip hop"
    assert tagging.tag_name("mood/theme---Happy") == "happy"
    assert tagging.tag_name("drumnbass") == "drum and bass"
    assert tagging.tag_name("rnb") == "r&b"
    assert tagging.tag_name("60s") == "60s"


# --- in a build ------------------------------------------------------------------------------------------

@needs_tensorflow
def test_a_build_with_the_models_fills_genre_and_mood_of_every_row(models_dir, tmp_path, capsys):
    """A recording cut into clips and a MIDI file (rendered to listen), each with a pitch-shifted variant:
    every row gets the stand-in genre head's winner, and the mood head's bias winner among its moods
    (variants keep their source's tags); the run does not say that genre stays null."""
    from fixtures import IN_MEMORY, make_midi, melody, progression_audio, read_rows, wav_bytes

    from captune.pipelines import build

    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    (root / "song.wav").write_bytes(wav_bytes(progression_audio(["C", "F", "G", "C"], bpm=120, repeats=1)[0]))
    (root / "tune.mid").write_bytes(make_midi([(0, False, melody([60, 64, 67, 72, 67, 64, 60]))], tempo_bpm=120))
    build.run(["--input", str(root), "--output", str(out), "--essentia-models", models_dir, "--clip-seconds", "4",
               "--augment", "musicbench", "--pitch-shifts", "1", "--tempo-changes", "0", "--volume-changes", "0",
               *IN_MEMORY])
    rows = read_rows(out)
    assert {r["modality"] for r in rows} == {"audio", "midi"} and len(rows) == 2 * 2 + 2  # 9 s: clips at 0, 4 s
    assert all(r["genre"] == ["hip hop"] for r in rows), [r["genre"] for r in rows]
    assert all("melancholic" in r["mood"] for r in rows), [r["mood"] for r in rows]
    assert all("hip hop" in r["caption"] for r in rows if r["variant"]["kind"] == "original"), \
        [r["caption"] for r in rows]
    assert "genre column stays null" not in capsys.readouterr().err


def test_a_build_with_a_folder_lacking_the_models_stops_before_it_starts(tmp_path):
    from captune.pipelines import build

    with pytest.raises(SystemExit) as stop:
        build.run(["--input", str(tmp_path), "--output", str(tmp_path / "out"), "--essentia-models", str(tmp_path)])
    assert "--essentia-models" in str(stop.value)
