"""srformer.Summarizer against HuggingFace's goldens and the C++ command-line example."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

import srformer

BATCH_SIZE = 8  # the command line's default --batch-size
SCORE_TOLERANCE = 1e-4  # |sequences_score - HF| (float32 sums of ~60 log-probs)


def golden_options(golden: Dict[str, Any], setting: str) -> Dict[str, Any]:
    """golden.json's generation settings as keyword arguments."""
    return dict(golden["generation"][setting])


@pytest.mark.parametrize("setting", ["greedy", "beam4"])
def test_ids_text_and_scores_match_huggingface(summarizer, demo_golden, demo_documents, setting):
    batch = summarizer.summarize(demo_documents, batch_size=BATCH_SIZE, **golden_options(demo_golden, setting))
    assert isinstance(batch, srformer.SummaryBatch)
    assert len(batch) == len(demo_documents) == 46
    worst_score = 0.0
    for item, summary in zip(demo_golden["items"], batch):
        expected = item[setting]
        assert summary.ids == expected["ids"], item["id"]
        assert summary.text == expected["text"], item["id"]
        assert summary.output_tokens == expected["generated_len"], item["id"]
        assert summary.input_tokens == len(item["input_ids"]), item["id"]
        assert summary.input_truncated == item["input_truncated"], item["id"]
        if "sequences_score" in expected:
            worst_score = max(worst_score, abs(summary.score - expected["sequences_score"]))
        else:
            assert summary.score is None
    assert worst_score <= SCORE_TOLERANCE
    stats = batch.stats
    assert stats.documents == 46
    assert stats.output_tokens == sum(s.output_tokens for s in batch)
    assert stats.input_tokens == sum(len(item["input_ids"]) for item in demo_golden["items"])
    assert stats.decode_seconds > 0 and stats.encode_seconds > 0
    flops = stats.cross_attention_flops
    assert flops["scores"] > 0 and flops["total"] == sum(v for k, v in flops.items() if k != "total")


def test_input_ids_match_huggingface(summarizer, demo_golden):
    for item in demo_golden["items"]:
        assert summarizer.input_ids(item["document"]) == item["input_ids"], item["id"]


def run_cli(program: Path, documents: List[str], tmp_path: Path, *flags: str) -> List[str]:
    source = tmp_path / "documents.jsonl"
    with open(source, "w", encoding="utf-8") as f:
        for document in documents:
            f.write(json.dumps({"document": document}) + "\n")
    output = tmp_path / "summaries.jsonl"
    subprocess.run(
        [str(program), "--jsonl", str(source), "-o", str(output), "--no-progress", "--batch-size", str(BATCH_SIZE), *flags],
        check=True,
        capture_output=True,
    )
    with open(output, encoding="utf-8") as f:
        return [json.loads(line)["summary_text"] for line in f]


@pytest.mark.parametrize(
    "flags, options, count",
    [
        ((), {}, 46),
        (("--num-beams", "4", "--no-repeat-ngram-size", "3"), {"num_beams": 4, "no_repeat_ngram_size": 3}, 16),
    ],
    ids=["greedy", "beam4"],
)
def test_summaries_equal_the_command_line(summarizer, summarize_program, demo_documents, tmp_path, flags, options, count):
    documents = demo_documents[:count]
    expected = run_cli(summarize_program, documents, tmp_path, *flags)
    got = summarizer.summarize(documents, batch_size=BATCH_SIZE, **options)
    assert [s.text for s in got] == expected


def test_a_single_document_gives_a_summary(summarizer, demo_golden):
    item = demo_golden["items"][0]
    summary = summarizer.summarize(item["document"])
    assert isinstance(summary, srformer.Summary)
    assert summary.ids == item["greedy"]["ids"]
    assert "Summary(text=" in repr(summary)


def test_batching_does_not_change_summaries(summarizer, demo_documents):
    documents = demo_documents[:6]
    one_batch = [s.ids for s in summarizer.summarize(documents)]
    singles = [s.ids for s in summarizer.summarize(documents, batch_size=1)]
    assert one_batch == singles


def test_generation_keywords_are_applied(summarizer, demo_documents):
    document = demo_documents[3]
    short = summarizer.summarize(document, max_new_tokens=3)
    assert short.output_tokens == 3 and len(short.ids) == 4
    longer = summarizer.summarize(document, min_new_tokens=30, max_new_tokens=40)
    assert longer.output_tokens >= 30
    sampled = [summarizer.summarize(document, do_sample=True, seed=7, top_k=20, temperature=0.8).ids for _ in range(2)]
    assert sampled[0] == sampled[1]  # seeded: reproducible
    # None leaves an option at its default
    assert summarizer.summarize(document, num_beams=None).ids == summarizer.summarize(document).ids


def test_stream_pieces_join_to_the_summary(summarizer, demo_documents):
    for document in demo_documents[:4]:
        expected = summarizer.summarize(document)
        stream = summarizer.stream(document)
        pieces = list(stream)
        assert len(pieces) > 1
        assert "".join(pieces) == expected.text
        assert stream.summary is not None and stream.summary.ids == expected.ids
        assert stream.stats is not None and stream.stats.output_tokens == expected.output_tokens
    beam = summarizer.summarize(demo_documents[0], num_beams=4)
    assert "".join(summarizer.stream(demo_documents[0], num_beams=4)) == beam.text


def test_stream_can_be_stopped_early(summarizer, demo_documents):
    stream = summarizer.stream(demo_documents[5], max_new_tokens=60, min_new_tokens=60)
    first = next(stream)
    assert first
    stream.close()  # generation ends at the next token; the summary holds what was made
    rest = list(stream)
    summary = stream.summary
    assert summary is not None
    assert summary.output_tokens < 60
    assert first + "".join(rest) == summary.text
    # Dropping an unfinished stream does not hang or crash
    unfinished = summarizer.stream(demo_documents[6])
    next(unfinished)
    del unfinished
    with summarizer.stream(demo_documents[7]) as scoped:
        next(scoped)


def test_stream_raises_the_generation_error(summarizer):
    with pytest.raises(srformer.InputError, match="empty"):
        list(summarizer.stream(""))
    with pytest.raises(srformer.OptionError):
        summarizer.stream("text", num_beams=0)


def test_properties(summarizer):
    assert summarizer.max_input_tokens == 512
    assert summarizer.max_document_bytes == 512 * 64
    assert summarizer.attention == {"kind": "full", "segment": 64, "gen_len": 128, "mode": "paper"}
    config = summarizer.generation_config
    assert config["max_length"] == 65 and config["eos_token_id"] == [1] and config["decoder_start_token_id"] == 0
    assert isinstance(summarizer.tokenizer, srformer.Tokenizer)


def test_segmented_attention_runs_and_counts_less_work(demo_model, demo_documents):
    full = srformer.Summarizer(demo_model).summarize(demo_documents[:2], max_new_tokens=16)
    segmented = srformer.Summarizer(demo_model, attention="segmented", segment=32, mode="causal")
    assert segmented.attention == {"kind": "segmented", "segment": 32, "gen_len": 128, "mode": "causal"}
    result = segmented.summarize(demo_documents[:2], max_new_tokens=16)
    assert all(s.text for s in result)
    assert result.stats.cross_attention_flops["scores"] < full.stats.cross_attention_flops["scores"]


def test_srformer_needs_trained_parameters(demo_model):
    with pytest.raises(srformer.ConfigError, match="allow_fresh_raf_parameters"):
        srformer.Summarizer(demo_model, attention="srformer")
    fresh = srformer.Summarizer(demo_model, attention="srformer", fresh_raf=True)
    assert fresh.summarize("A short text about a library.", max_new_tokens=5).output_tokens <= 5
