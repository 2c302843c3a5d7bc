"""A caption sentence about a lasting change of key, from ``key_changes``.

Conventions: ``facts`` keyed by the record's column names; ``key_changes`` is
``[{'time_s', 'key'}, ...]`` (first entry at 0 s), ``duration_s`` the piece's
length in seconds. The sentence has a ``{subj}`` placeholder, as the template
captioner's sentences do.

Only a change that lasts is said: a key region counts when it holds at least
``MIN_SHARE`` of the piece (a sonata's second group, a folk tune's B part, a
pop song's lifted last chorus all do; a tonicised phrase does not). Shorter
regions are dropped and equal neighbours merged. The sentence is said only
when the piece opens in its global key (``key``), so that "home" means the key
the caption names:

- home, other, home: "{subj} opens in C major and moves to G major before returning home."
- home, then away to the end: "{subj} opens in C major and moves to D major."
- more keys: "{subj} opens in C major and passes through G major and A minor before returning home."

Each key is named once, in the order first heard: C minor, C major, C minor, C major, C minor (a
movement going back and forth between the modes) is "opens in C minor and moves to C major before
returning home".
"""

from collections.abc import Mapping

MIN_SHARE = 0.15  # share of the piece's duration a key region must hold to be said


def lasting_keys(facts: Mapping) -> list[str]:
    """Keys of the regions of ``key_changes`` holding at least ``MIN_SHARE`` of the piece, in
    order, equal neighbours merged (empty without changes or a duration)."""
    changes = facts.get("key_changes") or []
    duration = facts.get("duration_s") or 0.0
    if not changes or duration <= 0:
        return []
    ends = [c["time_s"] for c in changes[1:]] + [duration]
    kept = [c["key"] for c, end in zip(changes, ends) if end - c["time_s"] >= MIN_SHARE * duration]
    return [k for i, k in enumerate(kept) if i == 0 or k != kept[i - 1]]


def modulation_sentence(facts: Mapping) -> str | None:
    """The sentence (see module doc), or None when the piece does not change key lastingly."""
    keys = lasting_keys(facts)
    if len(keys) < 2 or keys[0] != facts.get("key"):
        return None
    home, rest = keys[0], keys[1:]
    returns = rest[-1] == home
    away = list(dict.fromkeys(k for k in (rest[:-1] if returns else rest) if k != home))  # each key once
    if len(away) == 1:
        middle = f"moves to {away[0]}"
    else:
        middle = "passes through " + ", ".join(away[:-1]) + f" and {away[-1]}"
    return f"{{subj}} opens in {home} and {middle}" + (" before returning home." if returns else ".")
