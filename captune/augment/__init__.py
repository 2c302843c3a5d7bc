"""MusicBench-style variants of a source, exact and reproducible (see DESIGN.md).

>>> from captune import augment
>>> for v in augment.plan.variants(source_id, facts["duration_s"], seed=0):
...     data_v = augment.midi.apply(data, v)            # or augment.audio.apply(samples, sr, v)
...     facts_v = augment.labels.rewrite(facts, v)
...     augment.verify.check(facts_v, midi.extract(midi.from_midi_bytes(data_v)))

Pure functions, no Beam: :mod:`plan` (which variants, the volume curve),
:mod:`midi` and :mod:`audio` (transform the media), :mod:`labels` (rewrite the
facts), :mod:`verify` (re-extracted facts against rewritten ones).
:mod:`audio` needs ``pedalboard``, imported on first use.
"""

from captune.augment import audio, labels, midi, plan, verify
from captune.augment.plan import ORIGINAL, Settings, gain_curve, variants

__all__ = ["ORIGINAL", "Settings", "audio", "gain_curve", "labels", "midi", "plan", "variants", "verify"]
