"""Words for numbers, as MidiCaps used them in captions.

Tempo (bpm) → Italian marking: thresholds 40, 60, 70, 90, 110, 140, 160, 210 bpm
step through Grave, Largo, Adagio, Andante, Moderato, Allegro, Vivace, Presto,
Prestissimo (a tempo exactly on a threshold takes the slower word).
Duration (s) → thresholds 30, 120, 300 s step through Short fragment, Short song,
Song, Long piece. Both tables are MidiCaps' (Melechovsky et al., 2024).
"""

import bisect

TEMPO_THRESHOLDS_BPM = (40, 60, 70, 90, 110, 140, 160, 210)
TEMPO_WORDS = ("Grave", "Largo", "Adagio", "Andante", "Moderato", "Allegro",
               "Vivace", "Presto", "Prestissimo")
DURATION_THRESHOLDS_S = (30, 120, 300)
DURATION_WORDS = ("Short fragment", "Short song", "Song", "Long piece")


def tempo_word(bpm: float | None) -> str | None:
    """Italian tempo marking for ``bpm`` (beats per minute), None if unknown."""
    if bpm is None:
        return None
    return TEMPO_WORDS[bisect.bisect_left(TEMPO_THRESHOLDS_BPM, bpm)]


def duration_word(seconds: float) -> str:
    """MidiCaps duration bucket for a length in seconds."""
    return DURATION_WORDS[bisect.bisect_left(DURATION_THRESHOLDS_S, seconds)]
