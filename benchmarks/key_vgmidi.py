"""Game music check of the global key: VGMIDI's 204 labelled phrases have no key labels, so captune's key
(the default start-and-end method, and the opening-only method of the previous release) is scored
against music21's ``analyze('key')`` on the same files (mir_eval weighted score: agreement, not truth).

    python benchmarks/key_vgmidi.py [--corpora ../shared/corpora]
"""

import argparse
import glob
import os

import mir_eval
import music21

from captune.extractors.midi.key import key
from captune.extractors.midi.piece import from_midi_bytes

METHODS = {"captune (default)": {}, "opening only (previous)": {"closing": 0, "final_bass_weight": 0}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default="/work/shared/corpora")
    args = parser.parse_args(argv)
    files = sorted(glob.glob(os.path.join(args.corpora, "vgmidi", "labelled", "phrases", "*.mid")))
    scores = {name: [] for name in METHODS}
    for path in files:
        found = music21.converter.parse(path).analyze("key")
        reference = f"{found.tonic.name.replace('-', 'b')} {found.mode}"
        piece = from_midi_bytes(open(path, "rb").read())
        for name, kwargs in METHODS.items():
            answer = key(piece, **kwargs)
            scores[name].append(mir_eval.key.weighted_score(reference, answer["key"] if answer else "X"))
    print(f"VGMIDI, {len(files)} phrases: weighted agreement with music21's analyze('key')")
    for name, values in scores.items():
        print(f"| {name} | {sum(values) / len(values):.3f} |")


if __name__ == "__main__":
    main()
