"""How often the segment captions state a change from the section before, and whether they pass
:func:`captune.captioners.factcheck.check_segment`, on the first ``--songs`` POP909 songs.

    python benchmarks/section_changes.py [--corpora /work/shared/corpora] [--songs 100]
"""

import argparse
import json
import os
from collections import Counter

from captune.captioners import factcheck
from captune.captioners.form import section_changes, segment_captions
from captune.extractors.midi import extract, from_midi_bytes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default="/work/shared/corpora")
    parser.add_argument("--songs", type=int, default=100)
    args = parser.parse_args(argv)
    path = os.path.join(args.corpora, "pop909_structure", "items.jsonl")
    items = [json.loads(line) for line in open(path)][:args.songs]
    sentences = stated = failed = 0
    counts = Counter()
    for item in items:
        facts = extract(from_midi_bytes(open(os.path.join(args.corpora, item["midi"]), "rb").read()))
        for index, (text, section) in enumerate(zip(segment_captions(facts) or [], facts["sections"] or [])):
            change = section_changes(facts, index)
            said = [k for k in ("enter", "leave") if change[k]] + \
                   [change[k] for k in ("register", "density", "dynamics") if change[k]]
            counts.update(said)
            sentences += 1
            stated += bool(said)
            failed += bool(factcheck.check_segment(text["text"], section, facts))
    print(f"{len(items)} POP909 songs: {sentences} section sentences, {stated} state a change "
          f"({100 * stated / max(sentences, 1):.0f} %), {failed} fail check_segment; {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
