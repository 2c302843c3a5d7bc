"""The command-line errors a build raises before any work; no Beam import, so the CLI can catch them
before Beam's import-time logging is configured."""


class UsageError(SystemExit):
    """A mistake on the command line or in the inputs, found before any work (``captune`` exits 2)."""


class OutputNotWritable(UsageError):
    """The output folder cannot be created or written."""


class OutputLocked(SystemExit):
    """Another build holds the output folder's lock (``captune`` exits 3)."""
