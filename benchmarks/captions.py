"""Captions per second per core: template captioner vs LLM captioners, and the share of LLM
captions that pass the fact check.

Measured in one run, on the same facts (absolute times drift, ratios do not):

- facts: the extracted facts of ``--files`` POP909 MIDI files (analysed before
  timing); without the corpora, generated fact sets.
- ``template``: :func:`captune.captioners.caption`, one process (the baseline).
- ``fact check``: :func:`captune.captioners.factcheck.check` on the template
  captions (its cost per caption, and a sanity check: every template caption passes).
- ``tiny random model``: the real transformers path (``LocalModel`` +
  ``LLMCaptioner``: prompt, batched greedy generation, check, one retry,
  fallback) on a 2-layer random Llama built like the tests' one, with torch on
  one thread, no cache. Its captions are gibberish, so its pass share is 0 by
  construction; the row measures the machinery, not a model.
- ``--model PATH``: the same for a real local model, when one is on disk (none
  ships with captune and nothing is downloaded).

    python benchmarks/captions.py [--corpora /work/shared/corpora] [--files 200] [--repeats 20] [--llm-rows 32]
                                  [--model PATH]

Template and check times are the mean over ``--repeats`` passes (seconds per pass).
"""

import argparse
import glob
import os
import sys
import tempfile
import time

import numpy as np

from captune.captioners import caption
from captune.captioners.factcheck import check

DEFAULT_CORPORA = "/work/shared/corpora"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=DEFAULT_CORPORA, help="folder holding pop909/ (default %(default)s)")
    parser.add_argument("--files", type=int, default=200, help="POP909 files whose facts are captioned")
    parser.add_argument("--repeats", type=int, default=20,
                        help="passes over the facts for the template and check timings (default %(default)s)")
    parser.add_argument("--llm-rows", type=int, default=32, help="rows captioned by each LLM (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=8, help="local generation batch (default %(default)s)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="tokens per answer (default %(default)s)")
    parser.add_argument("--model", help="a real local transformers model folder, if one is available offline")
    return parser.parse_args(argv)


def load_facts(corpora: str, files: int) -> tuple[list[dict], str]:
    from captune.extractors import BadInput, analyze

    paths = sorted(glob.glob(os.path.join(corpora, "pop909", "POP909", "*", "*.mid")))[:files]
    facts = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                facts.append(analyze(fh.read(), path))
        except BadInput:
            pass
    if facts:
        return facts, f"{len(facts)} POP909 files"
    rng = np.random.default_rng(0)
    keys = ["C major", "A minor", "Eb major", "F# minor", "G major", "D minor"]
    names = ["Acoustic Grand Piano", "Electric Bass (finger)", "Drums", "Violin", "Flute", "String Ensemble 1"]
    for i in range(files):
        bpm = float(rng.integers(50, 180))
        facts.append({"key": keys[i % len(keys)], "tempo_bpm": bpm, "tempo_word": None, "time_signature": "4/4",
                      "instruments": list(rng.choice(names, 3, replace=False)), "duration_s": 60.0,
                      "duration_word": "Short song", "chord_summary": ["C", "G", "Am", "F"],
                      "chord_summary_count": 2})
    return facts, f"{files} generated fact sets"


def time_template(facts, repeats):
    started = time.perf_counter()
    for r in range(repeats):
        captions = [caption(f, np.random.default_rng([r, i])) for i, f in enumerate(facts)]
    return captions, (time.perf_counter() - started) / repeats


def time_check(captions, facts, repeats):
    started = time.perf_counter()
    for _ in range(repeats):
        passed = sum(not check(c, f) for c, f in zip(captions, facts))
    return passed, (time.perf_counter() - started) / repeats


def time_llm(path, facts, templates, batch_size, max_new_tokens):
    import torch

    from captune.captioners.llm import LLMCaptioner, LocalModel

    torch.set_num_threads(1)  # one core
    model = LocalModel(path, batch_size=batch_size, max_new_tokens=max_new_tokens)
    captioner = LLMCaptioner(model, model=model.name)
    started = time.perf_counter()
    outcomes = []
    for i in range(0, len(facts), batch_size):
        outcomes += captioner.caption_many(facts[i:i + batch_size], templates[i:i + batch_size])
    seconds = time.perf_counter() - started
    passed = sum(o["caption_check"]["status"] in ("accepted", "retried") for o in outcomes)
    return passed, seconds


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    facts, source = load_facts(args.corpora, args.files)
    captions, t_template = time_template(facts, args.repeats)
    passed_check, t_check = time_check(captions, facts, args.repeats)
    rate = len(facts) / t_template
    rows = [("template (baseline)", len(facts), t_template, None),
            ("fact check of the template captions", len(facts), t_check, f"{passed_check}/{len(facts)}")]

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    from test_llm_local import build_tiny_model  # noqa: E402  (the tests' offline random model)

    llm_facts = facts[:args.llm_rows]
    with tempfile.TemporaryDirectory() as tmp:
        tiny = build_tiny_model(os.path.join(tmp, "tiny-llama"))
        passed, seconds = time_llm(tiny, llm_facts, captions[:len(llm_facts)], args.batch_size, args.max_new_tokens)
    rows.append((f"tiny random Llama (2 layers, {args.max_new_tokens} new tokens)", len(llm_facts), seconds,
                 f"{passed}/{len(llm_facts)}"))
    if args.model:
        passed, seconds = time_llm(args.model, llm_facts, captions[:len(llm_facts)], args.batch_size,
                                   args.max_new_tokens)
        rows.append((os.path.basename(os.path.normpath(args.model)), len(llm_facts), seconds,
                     f"{passed}/{len(llm_facts)}"))

    print(f"Captions per second per core on {source} (one process, torch on one thread), "
          f"{os.cpu_count()} cores on the machine.\n")
    print("| captioner | captions | seconds per pass | captions/s per core | ratio vs template | pass the fact check |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, n, seconds, share in rows:
        per_s = n / seconds
        print(f"| {name} | {n} | {seconds:.3f} | {per_s:,.1f} | {per_s / rate:.4f} | {share or '—'} |")
    if not args.model:
        print("\nNo real small model is available offline on this machine (nothing is downloaded): "
              "pass --model PATH to measure one.")


if __name__ == "__main__":
    main()
