"""The errors a build stops with and the CLI turns into one line and an exit status; no Beam import, so
the CLI can catch them before Beam's import-time logging is configured."""


class UsageError(SystemExit):
    """A mistake on the command line or in the inputs, found before any work (``captune`` exits 2)."""


class OutputNotWritable(UsageError):
    """The output folder cannot be created or written."""


class OutputLocked(SystemExit):
    """Another build holds the output folder's lock (``captune`` exits 3)."""


class RowsLost(SystemExit):
    """The row check found rows missing between two steps after the run: nothing was committed, the
    folder keeps the dataset it held (``captune`` exits 4)."""
