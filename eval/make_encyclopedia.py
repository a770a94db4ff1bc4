"""Build the fourth labelled domain, encyclopedia articles, from ``../shared/data/`` (SQuAD).

    python eval/make_encyclopedia.py        # train.py, report.py and the tests run it when needed

Reads the SQuAD 2.0 and 1.1 files of ``../shared/data/`` (Rajpurkar et al. 2016, 2018;
CC BY-SA 4.0; see docs/quality.md) and writes, all under ``eval/work/encyclopedia/``
(git-ignored: derived from CC BY-SA data, and made again in seconds):

- ``documents/<title>.txt``: every article that is indexed, one text file each, its title as
  the first line, then its paragraphs separated by blank lines;
- ``<part>/encyclopedia.jsonl`` for each part ``fit``, ``heldout`` and ``sealed``: questions
  about that part's indexed articles, answerable (with every accepted answer) and, where
  SQuAD 2.0 has them, unanswerable ones (``"answers": []``, written to look answerable);
- ``<part>/unindexed_encyclopedia.jsonl``: questions about articles left out of the index,
  which no document answers (``"answers": []``).
- ``<part>/dialogues_encyclopedia.jsonl``: two-turn dialogues made from that part's questions,
  a question's name replaced by "it" after another question naming it (``common.follow_up_items``;
  up to 20 answerable and 20 unanswerable per article, drawn with a seed of their own).

The split is by article and seeded (``SEED``): of the 21 articles with unanswerable questions,
11 fit, 5 held out and 5 sealed; of the 21 without, 8 fit, 3 held out, 3 sealed and 7 left out
of the index (3 for fit, 2 held out, 2 sealed). Questions are sampled per article (seeded), so
that the fit part is about as large as the largest other domain's (the EU documents, 157
questions) and no single domain dominates the fit: 6 answerable and 4 unanswerable per fit
article, 10 per left-out article; the held-out and sealed parts take up to 60 answerable and
40 unanswerable per article (20 per left-out one). ``eval/splits/encyclopedia.json`` (committed)
records which article is in which part and the counts.
"""

from __future__ import annotations

import json

from common import ENCYCLOPEDIA_MANIFEST, build_encyclopedia


def main() -> None:
    manifest = build_encyclopedia()
    ENCYCLOPEDIA_MANIFEST.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for part, counts in manifest["parts"].items():
        print(part, {key: value if isinstance(value, int) else len(value) for key, value in counts.items()})


if __name__ == "__main__":
    main()
