#!/usr/bin/env python3
"""Training speed of srformer.torch: tokens/s of one optimizer step (forward, backward,
AdamW) for full, segmented and SRformer cross-attention on the same model shape, input
lengths and thread counts, in one run (so the ratios compare like with like).

    PYTHONPATH=build/python /usr/bin/python3 bench/python/train_speed.py \\
        --model examples/models/t5-demo --inputs 512 1024 --threads 1 2

Tokens counted per step: batch × (input length + target length). Each setting runs
--warmup steps, then --steps timed steps; the median step time is reported. Random
token ids (the speed does not depend on the text); the model's weights are the
folder's, with fresh RAF parameters where the checkpoint has none.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Dict, List

import torch

from srformer.torch.attention import AttentionOptions
from srformer.torch.models import Seq2SeqLM


def step_seconds(model: Seq2SeqLM, batch: int, source: int, target: int, steps: int, warmup: int) -> float:
    vocab = model.config.vocab_size
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, vocab, (batch, source), generator=generator)
    mask = torch.ones_like(input_ids)
    labels = torch.randint(5, vocab, (batch, target), generator=generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train()
    times: List[float] = []
    for index in range(warmup + steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        model(input_ids, mask, labels=labels).loss.backward()
        optimizer.step()
        if index >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="examples/models/t5-demo")
    parser.add_argument("--inputs", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--target", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--kinds", nargs="+", default=["full", "segmented", "srformer"])
    parser.add_argument("--mode", default="causal", choices=["paper", "causal"])
    parser.add_argument("--segment", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    results: List[Dict[str, object]] = []
    print(f"torch {torch.__version__}; batch {args.batch}, target {args.target} tokens, {args.mode} semantics, "
          f"s = {args.segment}; median of {args.steps} steps")
    print(f"{'threads':>7} {'input':>6} {'attention':>10} {'s/step':>8} {'tokens/s':>9} {'vs full':>8}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for source in args.inputs:
            full_seconds = None
            for kind in args.kinds:
                torch.manual_seed(0)
                options = AttentionOptions(kind=kind, segment_size=args.segment, gen_len=args.target,
                                           semantics=args.mode)
                model = Seq2SeqLM.from_pretrained(args.model, attention=options, fresh_raf=True)
                seconds = step_seconds(model, args.batch, source, args.target, args.steps, args.warmup)
                tokens = args.batch * (source + args.target)
                if kind == "full":
                    full_seconds = seconds
                ratio = f"{seconds / full_seconds:.2f}x" if full_seconds else "-"
                print(f"{threads:>7} {source:>6} {kind:>10} {seconds:>8.2f} {tokens / seconds:>9.0f} {ratio:>8}",
                      flush=True)
                results.append({"threads": threads, "input": source, "attention": kind, "seconds_per_step": seconds,
                                "tokens_per_second": tokens / seconds})
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "torch": torch.__version__, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
