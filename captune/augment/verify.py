"""Does a variant sound like its rewritten labels say? Agreement of re-extracted facts.

Conventions: ``expected`` are the facts from :func:`captune.augment.labels.rewrite`,
``found`` the facts extracted again from the variant's media; both keyed by the
record's column names. Keys are compared by tonic pitch class and mode (so
``'D# minor'`` agrees with ``'Eb minor'``); tempi agree when the found bpm is
within ``TEMPO_TOLERANCE`` (4 %) of the expected one, relative to the expected.
A check is None when either side lacks the fact.
"""

from captune.extractors.pitch import parse_key

TEMPO_TOLERANCE = 0.04


def check(expected: dict, found: dict) -> dict:
    """``{'key_ok', 'tempo_ok', 'key_found', 'bpm_found'}`` (see module doc)."""
    key_exp, key_found = expected.get("key"), found.get("key")
    bpm_exp, bpm_found = expected.get("tempo_bpm"), found.get("tempo_bpm")
    return {
        "key_ok": None if not key_exp or not key_found else _same_key(key_exp, key_found),
        "tempo_ok": None if not bpm_exp or bpm_found is None
        else abs(bpm_found - bpm_exp) <= TEMPO_TOLERANCE * bpm_exp,
        "key_found": key_found,
        "bpm_found": None if bpm_found is None else float(bpm_found),
    }


def _same_key(a: str, b: str) -> bool:
    try:
        return parse_key(a) == parse_key(b)
    except ValueError:
        return False
