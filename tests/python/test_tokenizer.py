"""srformer.Tokenizer against HF tokenizers 0.23 / SentencePiece 0.2.2 goldens
(tests/data/tokenizers) for both kinds: SentencePiece (T5) and byte-level BPE (BART)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import srformer


def load_golden(folder: Path):
    with open(folder / "golden.json", encoding="utf-8") as f:
        return json.load(f)


def test_sentencepiece_matches_golden(data_dir: Path):
    folder = data_dir / "tokenizers" / "t5-test-spm"
    golden = load_golden(folder)
    tokenizer = srformer.Tokenizer.from_folder(folder)
    assert tokenizer.eos_token_id == 2 and tokenizer.suffix_ids == [2] and tokenizer.prefix_ids == []
    for text, case in zip(golden["texts"], golden["cases"]):
        assert tokenizer.encode(text, add_special_tokens=False) == case["spm_ids"], text
        assert tokenizer.encode(text) == case["spm_ids"] + [2], text  # ids + </s> (id 2 in this test model)
        assert tokenizer.tokenize(text) == case["spm_pieces"], text
        # SentencePiece's own decode keeps <unk> as " ⁇ ": compare without skipping specials
        assert tokenizer.decode(case["spm_ids"], skip_special_tokens=False) == case["spm_decoded"], text
    texts = golden["texts"]
    assert tokenizer.encode_batch(texts) == [tokenizer.encode(t) for t in texts]
    assert tokenizer.decode_batch([c["spm_ids"] for c in golden["cases"]], skip_special_tokens=False) == [
        c["spm_decoded"] for c in golden["cases"]
    ]


def test_byte_level_bpe_matches_golden(data_dir: Path):
    folder = data_dir / "tokenizers" / "bart"
    golden = load_golden(folder)
    tokenizer = srformer.Tokenizer.from_folder(folder)
    for text, case in zip(golden["texts"], golden["cases"]):
        assert tokenizer.encode(text) == case["ids"], text  # <s> ... </s> as RobertaProcessing
        assert tokenizer.tokenize(text) == case["tokens"][1:-1], text
        assert tokenizer.decode(case["ids"]) == case["decoded"], text
        assert tokenizer.decode(np.array(case["ids"], dtype=np.int64)) == case["decoded"], text
    assert tokenizer.bos_token_id == 0 and tokenizer.eos_token_id == 2 and tokenizer.pad_token_id == 1


def test_truncation_keeps_the_special_tokens(demo_model: Path, demo_golden):
    tokenizer = srformer.Tokenizer.from_folder(demo_model)
    for item in demo_golden["items"][:10]:
        assert tokenizer.encode(item["document"], max_length=512) == item["input_ids"]
    ids = tokenizer.encode("one two three four five six", max_length=3)
    assert len(ids) == 3 and ids[-1] == 1
    assert len(tokenizer.encode("one two three four five six", max_length=2, add_special_tokens=False)) == 2


def test_properties_and_special_tokens(demo_model: Path):
    tokenizer = srformer.Tokenizer.from_folder(demo_model)
    assert tokenizer.vocab_size == len(tokenizer) == 8000
    assert tokenizer.id_to_token(1) == "</s>" and tokenizer.is_special(1) and not tokenizer.is_special(100)
    assert tokenizer.decode([0, 100, 1], skip_special_tokens=False).endswith("</s>")
    assert "vocab_size=8000" in repr(tokenizer)


def test_errors(demo_model: Path, tmp_path: Path):
    tokenizer = srformer.Tokenizer.from_folder(demo_model)
    with pytest.raises(srformer.InputError, match="outside the vocabulary"):
        tokenizer.decode([5, 8000])
    with pytest.raises(srformer.InputError, match="ints"):
        tokenizer.decode([5, "6"])
    with pytest.raises(srformer.InputError, match="32 bits"):
        tokenizer.decode([2**33])
    with pytest.raises(srformer.InputError, match="max_length"):
        tokenizer.encode("text", max_length=0)
    with pytest.raises(srformer.TokenizerError, match="no supported tokenizer"):
        srformer.Tokenizer.from_folder(tmp_path)
    with pytest.raises(srformer.TokenizerError, match="does not exist"):
        srformer.Tokenizer.from_folder(tmp_path / "missing")
