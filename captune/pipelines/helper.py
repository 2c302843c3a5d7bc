"""A helper process that takes the launcher's one-off imports off a local build's critical path.

On the local runners the launcher itself checks the shards (great_expectations: about 2.2 CPU s to
import and build its context, once per process) and writes the card (huggingface_hub and matplotlib:
about 1 CPU s), each only after the analysis. :func:`start` launches a child
(:class:`~captune.pipelines.isolation.Isolated`) that makes those imports on the other core while the
launcher imports Beam, constructs the graph and runs it; :func:`call` then runs
:func:`~captune.schemas.expectations.validate_table` or :func:`~captune.pipelines.card.write_card`
there, and waits for the child's imports if they are not done yet. In a process that started no
helper (an SDK worker, a remote runner's worker, a Python caller who did not ask), or once the helper
has died, :func:`call` runs the function in-process: the same function on the same arguments, so the
same result.
"""

import importlib
import logging
import threading

from captune.pipelines.isolation import Isolated, WorkerCrashed

CARD_MODULES = ("datasets.info", "huggingface_hub.repocard", "matplotlib.figure")  # what write_card imports
CPU_S = 3600.0  # per call: one shard's validation takes about a second per 2,000 rows
_state = {"helper": None}
_lock = threading.Lock()  # one call at a time: the shard writers of a threaded runner share the helper


def _functions() -> dict:
    from captune.pipelines.card import write_card
    from captune.schemas.expectations import validate_table

    return {"validate_table": validate_table, "write_card": write_card}


def serve(name: str, *args):
    """The helper's side of :func:`call`: the function named ``name`` on ``args``."""
    return _functions()[name](*args)


def warm() -> None:
    """The helper's imports, made before it takes its first call (quietly: Beam's import-time warnings,
    which the launcher silences in its own process, would otherwise reach the terminal from here)."""
    logging.getLogger().setLevel(logging.ERROR)
    from captune.schemas.expectations import _gx

    _gx()
    for module in CARD_MODULES:
        importlib.import_module(module)


def start() -> bool:
    """Start the helper unless one runs; True when this call started it (the caller then :func:`stop`\\ s it)."""
    with _lock:
        if _state["helper"] is not None:
            return False
        _state["helper"] = Isolated(serve, CPU_S, prepare=warm)
        _state["helper"].start()
        return True


def stop() -> None:
    """Stop the helper, if one runs; later calls run in-process."""
    with _lock:
        helper, _state["helper"] = _state["helper"], None
        if helper is not None:
            helper.close()


def call(name: str, *args):
    """``validate_table(*args)`` or ``write_card(*args)`` (``name``), in the helper if one runs."""
    with _lock:
        helper = _state["helper"]
        if helper is not None:
            try:
                return helper(name, *args)
            except WorkerCrashed:  # it died or never started: this process does the work from now on
                helper.close()
                _state["helper"] = None
    return serve(name, *args)
