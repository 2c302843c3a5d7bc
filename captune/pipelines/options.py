"""captune's own flags; every other flag goes to Beam unchanged."""

import argparse
import os

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions, WorkerOptions

from captune.extractors.analyze import DEFAULT_MAX_DURATION_S
from captune.extractors.midi.key import DEFAULT_PROFILE, PROFILES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Inputs, output and the knobs of a build (units in the help texts)."""
    parser.add_argument("--input", action="append", default=[],
                        help="file pattern: local path or folder, glob with ** or a gs:// pattern; repeatable")
    parser.add_argument("--output", help="output folder (local or gs://)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (captions)")
    parser.add_argument("--max-duration", dest="max_duration", type=float, default=DEFAULT_MAX_DURATION_S,
                        help="longest accepted item in seconds (default %(default)s)")
    parser.add_argument("--max-file-mb", dest="max_file_mb", type=float, default=64.0,
                        help="largest accepted input file in MiB (default %(default)s)")
    parser.add_argument("--item-timeout", dest="item_timeout", type=float, default=60.0,
                        help="seconds one item may take to decode and analyse; 0 runs in-process "
                             "without a limit (default %(default)s)")
    parser.add_argument("--key-profile", dest="key_profile", choices=sorted(PROFILES), default=DEFAULT_PROFILE,
                        help="key profile (default %(default)s, chosen by measurement)")
    parser.add_argument("--test-fraction", dest="test_fraction", type=float, default=0.1,
                        help="share of sources drawn into the test split (default %(default)s)")
    parser.add_argument("--rows-per-shard", dest="rows_per_shard", type=int, default=2000,
                        help="rows per Parquet shard, at most (default %(default)s)")


def parse(argv: list[str]) -> tuple[argparse.Namespace, PipelineOptions]:
    """(captune's options, Beam's options from every other flag)."""
    parser = argparse.ArgumentParser(prog="captune build", add_help=False)
    add_arguments(parser)
    opts, beam_argv = parser.parse_known_args(argv)
    given = {a[2:].split("=")[0] for a in beam_argv if a.startswith("--")}
    return opts, with_local_defaults(PipelineOptions(beam_argv), given)


def with_local_defaults(options: PipelineOptions, given: set[str]) -> PipelineOptions:
    """Run the DirectRunner on every core in multi-processing mode, its workers
    logging warnings and up, unless ``given`` (the Beam flag names on the command
    line) says otherwise."""
    standard = options.view_as(StandardOptions)
    direct = options.view_as(DirectOptions)
    if standard.runner in (None, "DirectRunner", "direct"):
        standard.runner = "DirectRunner"
        if "direct_running_mode" not in given:
            direct.direct_running_mode = "multi_processing"
        if "direct_num_workers" not in given:
            direct.direct_num_workers = os.cpu_count() or 1
        if "default_sdk_harness_log_level" not in given:
            options.view_as(WorkerOptions).default_sdk_harness_log_level = "WARNING"
    return options
