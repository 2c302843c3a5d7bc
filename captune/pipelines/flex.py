"""Dataflow Flex Template entry point (``deploy/Dockerfile``, ``deploy/flex-template-metadata.json``).

The launcher calls ``python flex.py --input=gs://… --output=gs://… --incremental=true --rows_per_shard=N
[Beam flags]``: template parameters are ``--name=value`` with underscores, and booleans are strings.
:func:`build_argv` turns them into ``captune build`` flags.
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


if __name__ == "__main__":
    build.run(build_argv(sys.argv[1:]))
