"""Dataflow Flex Template entry point (``deploy/Dockerfile``, ``deploy/flex-template-metadata.json``).

The launcher calls ``python flex.py --input=gs://… --output=gs://… --incremental=true --rows_per_shard=N
[Beam flags]``: template parameters are ``--name=value`` with underscores, and booleans are strings.
:func:`build_argv` turns them into ``captune build`` flags. The launcher submits the job and returns
(:func:`captune.pipelines.build.submit`): the pipeline's last step finishes the manifest, writes the
card, removes staging, commits ``OUT/manifest.json`` and releases the lock, so the job may outlive the
launcher VM. The worker image has captune installed (``deploy/Dockerfile``): nothing is reinstalled.
"""

import argparse
import sys

from captune.pipelines import build
from captune.pipelines.options import add_arguments


def build_argv(argv: list[str]) -> list[str]:
    """Template arguments → ``build.run`` arguments: ``--rows_per_shard=N`` → ``--rows-per-shard=N`` for
    captune's own flags, ``--incremental=true|false`` → ``--incremental`` or nothing."""
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    flags, switches = set(), set()
    for action in parser._actions:
        for option in action.option_strings:
            flags.add(option)
            if action.nargs == 0:
                switches.add(option)
    out = []
    for arg in argv:
        name, eq, value = arg.partition("=")
        dashed = name.replace("_", "-") if name.startswith("--") else name
        if dashed in flags:
            name = dashed
        if name in switches and eq:
            out += [name] if value.lower() == "true" else []
        else:
            out.append(name + eq + value)
    return out


def main(argv: list[str]):
    """Submit the build given the template arguments ``argv``; returns its ``PipelineResult`` once the
    runner has the job, without waiting for it."""
    result = build.submit(build_argv(argv))
    print("captune: job submitted; its last step commits the dataset (OUT/manifest.json)", file=sys.stderr)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
