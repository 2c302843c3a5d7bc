"""captune's own flags, parsed strictly; every other flag must be a Beam pipeline option, and goes to
Beam unchanged."""

import argparse
import difflib
import ipaddress
import os

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import (
    DirectOptions, PipelineOptions, PortableOptions, StandardOptions, WorkerOptions,
)

from captune.extractors.analyze import DEFAULT_MAX_DURATION_S
from captune.pipelines.commit import is_local
from captune.pipelines.errors import UsageError
from captune.extractors.midi.key import DEFAULT_PROFILE, PROFILES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Inputs, output and the knobs of a build (units in the help texts)."""
    parser.add_argument("--input", action="append", default=[],
                        help="file pattern: local path or folder, glob with ** or a gs:// pattern; repeatable")
    parser.add_argument("--output", help="output folder (local or gs://)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (captions)")
    parser.add_argument("--max-duration", dest="max_duration", type=float, default=DEFAULT_MAX_DURATION_S,
                        help="longest accepted item in seconds: a file, or with --clip-seconds a clip "
                             "(default %(default)s)")
    parser.add_argument("--max-recording-duration", dest="max_recording_duration", type=float, default=4 * 3600.0,
                        help="with --clip-seconds: longest recording cut into clips, seconds (default "
                             "%(default)s)")
    parser.add_argument("--max-file-mb", dest="max_file_mb", type=float, default=64.0,
                        help="largest accepted input file in MiB (default %(default)s)")
    parser.add_argument("--item-timeout", dest="item_timeout", type=float, default=60.0,
                        help="CPU seconds one item may use to decode and analyse, however busy the machine "
                             "(audio: per MB, and times the rows per clip with --augment; rendered MIDI: times "
                             "its rows; a wall-clock backstop of 10 times that plus 60 s); 0 runs in-process "
                             "without limits (default %(default)s)")
    parser.add_argument("--item-memory-mb", dest="item_memory_mb", type=float, default=4096.0,
                        help="MiB of memory one item's analysis may use beyond the analysis code itself "
                             "(address space of the isolated child); 0: no limit (default %(default)s)")
    parser.add_argument("--key-profile", dest="key_profile", choices=sorted(PROFILES), default=DEFAULT_PROFILE,
                        help="key profile (default %(default)s, chosen by measurement)")
    parser.add_argument("--emotion-model", dest="emotion_model",
                        help="JSON emotion model from `captune train-emotion` for valence, arousal, quadrant "
                             "and mood (default: the literature-based model of captune.extractors.emotion)")
    parser.add_argument("--test-fraction", dest="test_fraction", type=float, default=0.1,
                        help="share of sources drawn into the test split (default %(default)s)")
    parser.add_argument("--rows-per-shard", dest="rows_per_shard", type=int, default=2000,
                        help="rows per Parquet shard, at most (default %(default)s)")
    parser.add_argument("--incremental", action="store_true",
                        help="add to OUT: skip sources whose source_id OUT already holds, write the new shards "
                             "in a run folder of their own, commit one manifest naming every run's shards")
    parser.add_argument("--absolute-uris", dest="absolute_uris", action="store_true",
                        help="keep source_uri as matched; default: relative to the patterns' common root "
                             "(kept once in the manifest as root), so a published dataset carries no local paths")
    parser.add_argument("--verbose", action="store_true",
                        help="show Beam's own log (start-up notes, worker messages); default: errors only")
    parser.add_argument("--license", default="other",
                        help="license of the dataset for the card's YAML header, a Hugging Face license id such "
                             "as cc-by-4.0 or mit (default %(default)s: say which in the card)")
    audio = parser.add_argument_group("audio")
    audio.add_argument("--clip-seconds", dest="clip_seconds", type=float, default=None,
                       help="cut each recording into clips of this many seconds, one row per clip with its "
                            "offset in clip_start_s (MusicBench: 10); default whole files")
    audio.add_argument("--render-midi", dest="render_midi", action="store_true",
                       help="render MIDI and score items to 44.1 kHz audio with FluidSynth: their media becomes "
                            "FLAC and they gain loudness and audio statistics")
    audio.add_argument("--soundfont", help="SF2 soundfont for --render-midi (default: Debian's "
                                           "fluid-soundfont-gm, /usr/share/sounds/sf2/FluidR3_GM.sf2)")
    audio.add_argument("--essentia-models", dest="essentia_models", metavar="DIR",
                       help="folder of Essentia's discogs-effnet-bs64-1 embedding model and MTG-Jamendo genre and "
                            "mood/theme heads (.pb + .json; needs essentia-tensorflow): fills genre and mood of "
                            "every item (MIDI and scores are rendered with FluidSynth to listen)")
    aug = parser.add_argument_group("augmentation (--augment musicbench)")
    aug.add_argument("--augment", choices=("none", "musicbench"), default="none",
                     help="add MusicBench-style variants of every item with the labels rewritten "
                          "(default %(default)s)")
    aug.add_argument("--pitch-shifts", dest="pitch_shifts", type=_ints, default=(-3, -2, -1, 1, 2, 3),
                     help="semitone shifts, comma-separated (default -3,-2,-1,1,2,3)")
    aug.add_argument("--tempo-changes", dest="tempo_changes", type=int, default=4,
                     help="tempo-changed variants per item, half of them slower (default %(default)s)")
    aug.add_argument("--tempo-range", dest="tempo_range", type=_pair, default=(1.10, 1.25),
                     help="LOW,HIGH tempo ratio drawn uniformly; slower variants use 1/ratio (default 1.10,1.25)")
    aug.add_argument("--volume-changes", dest="volume_changes", type=int, default=1,
                     help="crescendo/decrescendo variants per item (default %(default)s)")
    aug.add_argument("--gain-range", dest="gain_range", type=_pair, default=(0.1, 0.4),
                     help="LOW,HIGH quiet-end gain of a volume ramp, linear amplitude (default 0.1,0.4)")
    aug.add_argument("--verify-augmentation", dest="verify_augmentation", action="store_true",
                     help="re-extract the facts of every variant and record in augmentation_check whether "
                          "the key moved by the shift and the bpm by the ratio")
    groups = parser.add_argument_group("near-duplicates and splits")
    groups.add_argument("--split-by", dest="split_by", default="group",
                        help="what one split draw covers: 'group' (near-duplicate groups from fingerprints, the "
                             "default), 'content' (each distinct file), 'folder' (the file's folder) or a regular "
                             "expression whose first match (or first group) in the path names the group")
    groups.add_argument("--dedup", choices=("none", "near"), default="none",
                        help="'near' keeps one item per group (the longest; ties: first by path) and lists the "
                             "rest in failures/near_duplicates.jsonl (default %(default)s: keep all, never split "
                             "a group)")
    llm = parser.add_argument_group("LLM captions (--captioner llm)")
    llm.add_argument("--captioner", choices=("template", "llm"), default="template",
                     help="template captions, or LLM captions checked against the facts with the template "
                          "caption as fallback (default %(default)s)")
    llm.add_argument("--llm-model", dest="llm_model",
                     help="a local transformers model folder, or the model NAME served at --llm-endpoint")
    llm.add_argument("--llm-endpoint", dest="llm_endpoint",
                     help="URL of an OpenAI-compatible chat API (vLLM, llama.cpp, Ollama, transformers serve), "
                          "e.g. http://127.0.0.1:8000/v1")
    llm.add_argument("--llm-api-key-env", dest="llm_api_key_env", default="OPENAI_API_KEY",
                     help="environment variable holding the endpoint's API key; the key itself is never "
                          "logged or stored (default %(default)s)")
    llm.add_argument("--caption-style", dest="caption_style", choices=("writing", "summary", "paraphrase",
                                                                       "attributes"), default="writing",
                     help="LP-MusicCaps instruction style (default %(default)s)")
    llm.add_argument("--caption-examples", dest="caption_examples",
                     help="JSON-lines file of few-shot examples {\"facts\": {...}, \"caption\": \"...\"} "
                          "replacing the built-in ones")
    llm.add_argument("--llm-cache", dest="llm_cache",
                     help="folder of cached responses keyed by (model, prompt) (default OUT/llm_cache)")
    llm.add_argument("--llm-concurrency", dest="llm_concurrency", type=int, default=4,
                     help="endpoint requests in flight per worker (default %(default)s)")
    llm.add_argument("--llm-batch-size", dest="llm_batch_size", type=int, default=8,
                     help="rows captioned per batch (local generation batch) (default %(default)s)")
    llm.add_argument("--llm-retries", dest="llm_retries", type=int, default=3,
                     help="endpoint retries per request, with exponential backoff (default %(default)s)")
    llm.add_argument("--llm-timeout", dest="llm_timeout", type=float, default=60.0,
                     help="seconds one endpoint request may take (default %(default)s)")
    llm.add_argument("--llm-max-tokens", dest="llm_max_tokens", type=int, default=120,
                     help="longest generated caption in tokens (default %(default)s)")


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def _pair(text: str) -> tuple[float, float]:
    values = tuple(float(v) for v in text.split(","))
    if len(values) != 2 or not 0 < values[0] <= values[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LOW,HIGH with 0 < LOW <= HIGH")
    return values


def check_build_options(opts: argparse.Namespace) -> None:
    """Raise SystemExit with a clear message for impossible grouping, clip, soundfont or tagging options."""
    import re

    if opts.split_by not in ("group", "content", "folder"):
        try:
            re.compile(opts.split_by)
        except re.error as exc:
            raise SystemExit(f"--split-by {opts.split_by!r}: not group, content, folder or a valid regular "
                             f"expression ({exc})") from None
    if opts.clip_seconds is not None and opts.clip_seconds <= 0:
        raise UsageError("--clip-seconds must be positive")
    if opts.clip_seconds is not None and opts.clip_seconds > opts.max_duration:
        raise UsageError(f"--clip-seconds {opts.clip_seconds:g} is over --max-duration {opts.max_duration:g}, "
                         "which bounds each clip")
    if opts.soundfont and not (os.path.isfile(opts.soundfont) if is_local(opts.soundfont)
                               else remote_exists(opts.soundfont, "--soundfont")):
        raise UsageError(f"--soundfont {opts.soundfont}: no such file")
    if opts.tempo_changes < 0 or opts.volume_changes < 0:
        raise SystemExit("--tempo-changes and --volume-changes must be 0 or more")
    if opts.essentia_models:
        check_essentia_models(opts.essentia_models)


def remote_exists(path: str, flag: str) -> bool:
    """Whether ``path`` (on an object store) exists; :class:`UsageError` when Beam cannot reach that store
    (no filesystem for the scheme, e.g. gs:// without the gcp extra; no permission)."""
    try:
        return FileSystems.exists(path)
    except (ValueError, OSError) as exc:
        raise UsageError(f"{flag} {path}: cannot be checked ({exc})") from None


def check_essentia_models(models: str) -> None:
    """A local model folder is loaded now (essentia-tensorflow and every file); on remote storage the
    files must be there (the workers load them: the launcher needs no TensorFlow)."""
    from captune.extractors.audio import tagging

    if is_local(models):
        try:
            tagging.check(models)
        except tagging.TaggingUnavailable as exc:
            raise UsageError(f"--essentia-models {models}: {exc.detail}") from None
        return
    missing = [name for name in tagging.MODEL_FILES
               if not remote_exists(f"{models.rstrip('/')}/{name}", "--essentia-models")]
    if missing:
        raise UsageError(f"--essentia-models {models} lacks {', '.join(missing)}")


def check_llm_options(opts: argparse.Namespace) -> None:
    """Raise SystemExit with a clear message for an impossible LLM configuration."""
    if opts.captioner != "llm":
        return
    if not opts.llm_model:
        raise SystemExit("--captioner llm needs --llm-model (a local model folder, or the model name served at "
                         "--llm-endpoint)")
    caption_examples(opts)


def caption_examples(opts: argparse.Namespace) -> list[dict] | None:
    """The ``--caption-examples`` file (local or ``gs://``), read here on the launcher through
    FileSystems and parsed, so the workers get the examples with the pipeline and need no access to
    the file (None: the built-in examples); :class:`UsageError` when it cannot be read or parsed."""
    if not opts.caption_examples:
        return None
    from captune.captioners.prompts import parse_examples

    try:
        with FileSystems.open(opts.caption_examples, compression_type="uncompressed") as fh:
            text = fh.read().decode("utf-8")
        return parse_examples(text, opts.caption_examples)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--caption-examples {opts.caption_examples}: cannot be read ({exc})") from None
    except ValueError as exc:
        raise UsageError(f"--caption-examples: {exc}") from None


def emotion_model_text(opts: argparse.Namespace) -> str | None:
    """The ``--emotion-model`` file's JSON text, checked (None for the default model); raise
    SystemExit with a clear message when it cannot be read or is not a captune emotion model."""
    if not getattr(opts, "emotion_model", None):
        return None
    from captune.extractors.emotion import LinearEmotionModel, ModelError
    try:
        with FileSystems.open(opts.emotion_model, compression_type="uncompressed") as fh:  # local or gs://
            text = fh.read().decode("utf-8")
        LinearEmotionModel.from_json(text)
    except (OSError, UnicodeDecodeError, ModelError) as exc:
        raise SystemExit(f"--emotion-model {opts.emotion_model}: {exc}") from None
    return text


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`UsageError` instead of exiting."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def beam_flags() -> set[str]:
    """Every flag a Beam pipeline option class defines (``--runner``, ``--direct_num_workers``, …)."""
    from apache_beam.options.pipeline_options import _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)
    return {o for action in parser._actions for o in action.option_strings if o.startswith("--")}


def captune_flags() -> set[str]:
    parser = _Parser(add_help=False)
    add_arguments(parser)
    return {o for action in parser._actions for o in action.option_strings}


def unknown_flags(beam_argv: list[str]) -> list[str]:
    """Flags in ``beam_argv`` that no Beam option defines, each with a suggestion when one is close:
    ``"--clip-secs (did you mean --clip-seconds?)"``."""
    known = beam_flags()
    ours = captune_flags()
    problems = []
    for arg in beam_argv:
        if not arg.startswith("--") or arg == "--":
            continue
        name = arg.split("=", 1)[0]
        if name in known:
            continue
        close = difflib.get_close_matches(name, sorted(ours), n=1, cutoff=0.6) or \
            difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        problems.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return problems


def parse(argv: list[str]) -> tuple[argparse.Namespace, PipelineOptions]:
    """(captune's options, Beam's options from every other flag); raises :class:`UsageError` for a flag
    that is neither captune's nor a Beam option, or a bad value, before anything starts."""
    parser = _Parser(prog="captune build", add_help=False, allow_abbrev=False)
    add_arguments(parser)
    opts, beam_argv = parser.parse_known_args(argv)
    stray = [a for a in beam_argv if not a.startswith("-")]
    unknown = unknown_flags(beam_argv)
    if unknown:
        raise UsageError("captune build: unknown flag" + ("s " if len(unknown) > 1 else " ") + ", ".join(unknown)
                         + " (neither a captune flag, see `captune build --help`, nor a Beam pipeline option)")
    if stray and not any(a.startswith("--") for a in beam_argv):
        raise UsageError(f"captune build: unexpected argument(s) {' '.join(stray)} (input patterns come first)")
    given = {a[2:].split("=")[0] for a in beam_argv if a.startswith("--")}
    return opts, with_local_defaults(PipelineOptions(beam_argv), given)


def with_local_defaults(options: PipelineOptions, given: set[str]) -> PipelineOptions:
    """Run the DirectRunner in its in-memory mode on every core, its workers logging warnings and
    up, unless ``given`` (the Beam flag names on the command line) says otherwise. In-memory mode
    with N workers runs the bundles of a stage on N threads of the launcher, each with its own
    embedded worker: no SDK worker processes (the analysis runs in isolated child processes anyway,
    :mod:`captune.pipelines.isolation`), so no second start-up, no second import of Beam and
    great_expectations and no transport of elements between processes. Not ``multi_threading``:
    that mode lost elements at 1,000 and 10,000 files (README, Output)."""
    standard = options.view_as(StandardOptions)
    direct = options.view_as(DirectOptions)
    if standard.runner in (None, "DirectRunner", "direct"):
        standard.runner = "DirectRunner"
        if "direct_running_mode" not in given:
            direct.direct_running_mode = "in_memory"
        if "direct_num_workers" not in given:
            direct.direct_num_workers = os.cpu_count() or 1
        if "default_sdk_harness_log_level" not in given:
            options.view_as(WorkerOptions).default_sdk_harness_log_level = "WARNING"
    return options


LOCAL_RUNNERS = ("DirectRunner", "direct", "BundleBasedDirectRunner", "SwitchingDirectRunner", "FnApiRunner")
SWITCHING = ("DirectRunner", "direct", "SwitchingDirectRunner")  # the names Beam resolves to its SwitchingDirectRunner


def local_runner(options: PipelineOptions):
    """The runner a DirectRunner build runs on: Beam's FnApiRunner, with the pipeline options in its
    provision info, as Beam's DirectRunner makes it when it does not run Prism; None for any other
    ``--runner`` (Beam makes it from the name). Beam 2.77's DirectRunner first tries its Prism runner,
    downloading the Prism binary from GitHub at run time: a network access (offline it fails and falls
    back to the FnApiRunner, after starting a worker pool), and, online, a runner that none of captune's
    tests or figures ran on."""
    if runner_name(options) not in SWITCHING:
        return None
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(
        beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)))


def runner_name(options: PipelineOptions) -> str:
    """The ``--runner`` given, by its class name (``DirectRunner`` when none is)."""
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    return runner if isinstance(runner, str) and "." not in runner else str(runner).rsplit(".", 1)[-1]


def _loopback(address: str | None) -> bool:
    host = (address or "").rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local_runner(options: PipelineOptions) -> bool:
    """True when every worker of the runner shares this machine's files: Beam's local runners
    (:data:`LOCAL_RUNNERS`: the DirectRunner in any mode, the FnApiRunner); any runner with
    ``--environment_type LOOPBACK`` (the SDK worker runs inside this process); the PortableRunner with
    the embedded job server (``--job_endpoint embed``) whose workers are PROCESSes or an EXTERNAL worker
    pool at a loopback address. Everything else is remote: Dataflow, Flink, Spark or a job server
    elsewhere, DOCKER workers (a container sees none of this machine's files)."""
    if runner_name(options) in LOCAL_RUNNERS:
        return True
    portable = options.view_as(PortableOptions)
    environment = (portable.environment_type or "DOCKER").upper()
    if environment == "LOOPBACK":
        return True
    return (runner_name(options) == "PortableRunner" and portable.job_endpoint == "embed"
            and (environment == "PROCESS" or environment == "EXTERNAL" and _loopback(portable.environment_config)))


def check_remote_paths(opts: argparse.Namespace, options: PipelineOptions) -> None:
    """With a remote runner (not :func:`is_local_runner`), refuse before submission every path the
    workers would have to read or write on this machine: local input patterns, a local ``--output``,
    ``--soundfont``, ``--essentia-models``, ``--llm-cache`` and a local ``--llm-model`` folder (without
    ``--llm-endpoint``). ``--emotion-model`` and ``--caption-examples`` may stay local: the launcher
    reads them and the pipeline carries their content."""
    if is_local_runner(options):
        return
    flags = [("--output", opts.output), ("--soundfont", opts.soundfont), ("--essentia-models", opts.essentia_models),
             ("--llm-cache", opts.llm_cache)]
    if opts.captioner == "llm" and not opts.llm_endpoint:
        flags.append(("--llm-model", opts.llm_model))
    local = [f"input pattern {p}" for p in opts.input if is_local(p)]
    local += [f"{flag} {path}" for flag, path in flags if path and is_local(path)]
    if local:
        raise UsageError(
            f"captune build: the {runner_name(options)}'s workers do not share this machine's files, so "
            f"{'; '.join(local)} cannot be local: put them where the workers read and write (gs://…). Without "
            "--soundfont the workers use their image's FluidR3_GM. Local runners (the DirectRunner, "
            "PortableRunner --job_endpoint embed with LOOPBACK, PROCESS or a loopback EXTERNAL pool) accept "
            "local paths.")
