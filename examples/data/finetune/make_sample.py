#!/usr/bin/env python3
"""Builds the small fine-tuning sample in this folder from the project's summarization
corpus (its data/summarization folder, passed as CORPUS_DIR), deterministically:

    python3 examples/data/finetune/make_sample.py CORPUS_DIR

Only the permissively licensed sources are used (SciTLDR: Apache-2.0; Debian package
descriptions: each under its package's DFSG-free licence), never DialogSum. train.jsonl
takes 150 + 150 items of the corpus's train split, valid.jsonl 20 + 20 of its valid
split; documents of at most 300 words, so the sample trains quickly on a CPU.
"""

from __future__ import annotations

import json
import lzma
import random
import sys
from pathlib import Path
from typing import Dict, Iterable, List

SEED = 20261203
MAX_WORDS = 300


def pick(lines: Iterable[str], per_source: int, rng: random.Random) -> List[Dict[str, str]]:
    by_source: Dict[str, List[Dict[str, str]]] = {"scitldr": [], "debian": []}
    for line in lines:
        item = json.loads(line)
        if item["source"] in by_source and len(item["document"].split()) <= MAX_WORDS:
            by_source[item["source"]].append(
                {"id": item["id"], "source": item["source"], "document": item["document"], "summary": item["summary"]}
            )
    chosen: List[Dict[str, str]] = []
    for source in sorted(by_source):
        chosen += rng.sample(by_source[source], per_source)
    rng.shuffle(chosen)
    return chosen


def main() -> None:
    corpus = Path(sys.argv[1])
    out = Path(__file__).resolve().parent
    rng = random.Random(SEED)
    with lzma.open(corpus / "train.jsonl.xz", "rt", encoding="utf-8") as f:
        train = pick(f, 150, rng)
    with open(corpus / "valid.jsonl", encoding="utf-8") as f:
        valid = pick(f, 20, rng)
    for name, items in (("train.jsonl", train), ("valid.jsonl", valid)):
        with open(out / name, "w", encoding="utf-8") as f:
            for item in items:
                f.write(json.dumps(item, ensure_ascii=False) + "\n")
        print(f"{name}: {len(items)} items")


if __name__ == "__main__":
    main()
