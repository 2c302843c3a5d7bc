"""The one exception extractors raise for input they cannot use.

``stage`` names the step that refused it (``decode`` or ``extract``).
``reason`` is a short stable code that run summaries group by; ``detail`` is a
human sentence. Codes used across captune:

``empty_file``, ``not_midi``, ``truncated``, ``no_notes``, ``too_long``,
``parse_error``, ``unsupported_format``, ``multi_piece_score`` (an Opus that is not an ABC tune
book, which :mod:`captune.items` cuts into tunes).
The pipeline adds its own (``read_error``, ``timeout``, ``crashed``, ``invalid_row``).
"""


class BadInput(ValueError):
    """Input that cannot become a row, with a reason code and a detail sentence."""

    def __init__(self, reason: str, detail: str, stage: str = "decode"):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.stage = stage

    def __reduce__(self):  # crosses process boundaries intact
        return BadInput, (self.reason, self.detail, self.stage)
