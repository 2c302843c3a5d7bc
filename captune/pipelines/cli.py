"""The ``captune`` command.

    captune build PATTERN [PATTERN ...] --output OUT [captune flags] [Beam flags]
    captune demo [--limit N] [--output DIR] [Beam flags]
    captune validate OUT              check shards against manifest, schema and expectations
    captune train-emotion LABELS.csv --output model.json [--cv 5]
                                      fit an emotion model (path,valence,arousal or path,quadrant);
                                      use it with build --emotion-model model.json
    captune publish OUT --repo-id user/name [--private] [--dry-run]

Patterns come first; every other flag is captune's or a Beam pipeline option, passed to Beam
unchanged (``--runner DataflowRunner --project P --region R --temp_location gs://…``); a flag that is
neither stops the command at once with a suggestion. ``--verbose`` shows Beam's own log.
"""

import argparse
import atexit
import gc
import logging
import sys

from captune.pipelines.errors import OutputLocked, RowsLost, UsageError

USAGE = __doc__


def _build_help() -> str:
    from captune.pipelines.options import add_arguments

    parser = argparse.ArgumentParser(prog="captune build", usage="captune build PATTERN [PATTERN ...] --output OUT "
                                     "[flags] [Beam flags]", add_help=False)
    add_arguments(parser)
    return parser.format_help() + "\nAny other flag is a Beam pipeline option (e.g. --runner, --direct_num_workers).\n"


def split_patterns(args: list[str]) -> tuple[list[str], list[str]]:
    """Leading arguments that are not flags are input patterns; the rest are flags."""
    n = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    return args[:n], args[n:]


def format_summary(manifest: dict) -> str:
    """The end-of-run summary printed on the terminal."""
    c, t, out = manifest["counts"], manifest.get("timings", {}), manifest["output"]
    lines = [f"captune {manifest['pipeline_version']}: {out}",
             f"  inputs      {c['inputs']}",
             f"  sources     {c.get('sources', c['rows'])}" + (f"  in {manifest['groups']['groups']} groups"
                                                               if manifest.get("groups") else ""),
             f"  rows        {c['rows']}  " + "  ".join(f"{k}={v}" for k, v in c["rows_by_split"].items()),
             f"  duplicates  {c['duplicates']}" + (f"  near-duplicates {c['near_duplicates']}"
                                                   if c.get("near_duplicates") else ""),
             f"  failures    {c['failures']}"]
    lines += [f"    {reason:<28} {n}" for reason, n in c["failures_by_reason"].items()]
    captions = c.get("captions")
    if captions:
        lines.append("  captions    " + "  ".join(f"{k}={captions.get(k, 0)}"
                                                  for k in ("accepted", "retried", "fallback", "template")))
    last = (manifest.get("runs") or [{}])[-1]
    if last.get("skipped"):
        lines.append(f"  this run    {last['counts']['inputs']} inputs, {last['skipped']} already in the output "
                     f"(skipped), {last['counts']['rows']} new rows")
    for error in manifest.get("llm_errors") or []:
        lines.append(f"    LLM: {error}")
    if t:
        lines.append(f"  wall time   {t['wall_s']} s ({t['files_per_s']} files/s)")
    root = out.rstrip("/")
    lines.append(f"  committed: {root}/manifest.json names the {len(manifest.get('shards', []))} shard(s) and the lists in "
                 f"{root}/{manifest.get('run_dir', 'data')}/; card {root}/README.md")
    return "\n".join(lines)


def validate(args: list[str]) -> int:
    """``captune validate OUT``: print the report; 0 when the dataset is sound, 1 otherwise."""
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: captune validate OUT", file=sys.stderr)
        return 2
    from captune.schemas.check import check_dataset, format_report

    report = check_dataset(args[0])
    print(format_report(args[0], report))
    return 0 if report["success"] else 1


def main(argv: list[str] | None = None) -> int:
    """The ``captune`` command; returns the exit status (2: a usage mistake found before any work,
    3: the output is locked by another build, 4: rows lost in the runner, nothing committed,
    130: interrupted)."""
    argv = sys.argv[1:] if argv is None else argv
    verbose = "--verbose" in argv
    if not logging.getLogger().handlers:  # before Beam is imported: its import-time warnings stay quiet
        logging.basicConfig(level=logging.INFO if verbose else logging.ERROR)
    logging.getLogger().setLevel(logging.INFO if verbose else logging.ERROR)
    logging.getLogger("apache_beam").setLevel(logging.INFO if verbose else logging.ERROR)
    try:
        return _main(argv)
    except UsageError as exc:
        message = str(exc)
        print(message if message.startswith("captune") else f"captune: {message}", file=sys.stderr)
        return 2
    except OutputLocked as exc:
        print(f"captune: {exc}", file=sys.stderr)
        return 3
    except RowsLost as exc:
        print(exc, file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        from captune.pipelines.console import INTERRUPTED  # Ctrl-C outside the run (during start-up)

        print(INTERRUPTED, file=sys.stderr)
        return 130


def _main(argv: list[str]) -> int:
    from captune.pipelines import helper

    building = bool(argv) and argv[0] in ("build", "demo") and not {"-h", "--help"} & set(argv[1:2])
    if building:  # the helper's imports run on the other core while this process imports Beam
        helper.start()
        sys.modules["IPython"] = None  # never IPython here: Beam's probe for it need not import it
    try:
        return _command(argv)
    finally:
        helper.stop()


def _command(argv: list[str]) -> int:
    from captune.pipelines import build, demo

    # What the imports made lives to the end: the collector need not scan it again, during the run or
    # at exit (several CPU s on a short build).
    gc.freeze()
    atexit.register(gc.freeze)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "build":
        if not rest or rest[0] in ("-h", "--help"):
            print(_build_help())
            return 0 if rest else 2
        patterns, flags = split_patterns(rest)
        manifest = build.run([arg for p in patterns for arg in ("--input", p)] + flags)
    elif command == "demo":
        manifest = demo.run(rest)
    elif command == "validate":
        return validate(rest)
    elif command == "train-emotion":
        from captune.pipelines import train_emotion
        return train_emotion.main(rest)
    elif command == "publish":
        from captune.pipelines import publish
        return publish.main(rest)
    else:
        print(f"unknown command {command!r}\n{USAGE}", file=sys.stderr)
        return 2
    print(format_summary(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
