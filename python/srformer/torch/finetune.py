"""Fine-tune a T5 or BART folder with full, segmented or SRformer cross-attention,
then export a folder the C++ library loads.

    python3 -m srformer.torch.finetune --model examples/models/t5-demo \\
        --train train.jsonl --valid valid.jsonl --attention srformer --segment 64 \\
        --mode causal --steps 1000 --out models/demo-srformer

Data: JSON Lines with the document in ``--field`` (default ``document``) and the
target in ``--summary-field`` (default ``summary``), tokenized by the C++ tokenizer
of the model folder (inputs cut to ``--max-input-tokens`` as the Summarizer cuts them,
targets to ``--max-target-tokens``).

Training: AdamW, linear warm-up then linear decay to 0, gradient clipping, gradient
accumulation; seeded (model initialisation of fresh RAF parameters, dropout, data
order), so two runs with the same arguments on the same machine give the same
numbers. A checkpoint (model, optimizer, schedule, RNG states, data position) is
written every ``--checkpoint-every`` steps into ``OUT.checkpoint/``; ``--resume``
continues from it exactly. A non-finite loss stops the run with exit status 3 and a
message naming the step (the last checkpoint is kept). At the end the model is
exported to ``--out`` with a ``training_log.jsonl`` and the command line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch

from .. import Tokenizer
from .attention import AttentionOptions
from .export import export_folder

EXIT_NON_FINITE = 3


@dataclass
class Example:
    input_ids: List[int]
    labels: List[int]


class DataError(Exception):
    """A bad line in a training or validation file."""


def read_examples(
    path: Path, tokenizer: Tokenizer, field: str, summary_field: str, max_input: int, max_target: int
) -> List[Example]:
    """Tokenized examples of a JSONL file; DataError naming the line for a bad one."""
    examples: List[Example] = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            where = f"{path} line {number}"
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                raise DataError(f"{where}: not valid JSON ({error})") from None
            if not isinstance(record, dict):
                raise DataError(f"{where}: expected a JSON object")
            document, summary = record.get(field), record.get(summary_field)
            if not isinstance(document, str) or not document.strip():
                raise DataError(f"{where}: field {field!r} is missing, empty or not a string")
            if not isinstance(summary, str) or not summary.strip():
                raise DataError(f"{where}: field {summary_field!r} is missing, empty or not a string")
            examples.append(
                Example(tokenizer.encode(document, max_length=max_input), tokenizer.encode(summary, max_length=max_target))
            )
    if not examples:
        raise DataError(f"{path}: no examples")
    return examples


def collate(examples: Sequence[Example], pad_id: int) -> Dict[str, torch.Tensor]:
    """Right-padded input ids, mask and labels (-100 on padding)."""
    batch = len(examples)
    source_length = max(len(e.input_ids) for e in examples)
    target_length = max(len(e.labels) for e in examples)
    input_ids = torch.full((batch, source_length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((batch, source_length), dtype=torch.long)
    labels = torch.full((batch, target_length), -100, dtype=torch.long)
    for row, example in enumerate(examples):
        input_ids[row, : len(example.input_ids)] = torch.tensor(example.input_ids)
        attention_mask[row, : len(example.input_ids)] = 1
        labels[row, : len(example.labels)] = torch.tensor(example.labels)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def batch_order(count: int, batch_size: int, seed: int, epoch: int) -> List[List[int]]:
    """The batches of one epoch: a seeded permutation cut into batch_size pieces."""
    order = list(range(count))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return [order[i : i + batch_size] for i in range(0, count, batch_size)]


def linear_schedule(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor: linear warm-up to 1 over `warmup` steps, then linear decay to 0 at `total`."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def token_count(batch: Dict[str, torch.Tensor]) -> int:
    return int(batch["attention_mask"].sum()) + int((batch["labels"] != -100).sum())


@torch.no_grad()
def validation_loss(model: torch.nn.Module, examples: List[Example], batch_size: int, pad_id: int, device: str) -> float:
    """Mean token cross-entropy over the validation examples."""
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    for first in range(0, len(examples), batch_size):
        batch = {k: v.to(device) for k, v in collate(examples[first : first + batch_size], pad_id).items()}
        logits = model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"]).logits
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), batch["labels"].reshape(-1), ignore_index=-100, reduction="sum"
        )
        total += float(loss)
        tokens += int((batch["labels"] != -100).sum())
    model.train(was_training)
    return total / max(1, tokens)


class Progress:
    """A one-line progress bar on standard error (a line every few seconds when not a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.terminal = sys.stderr.isatty()
        self.last = 0.0

    def update(self, step: int, loss: float, tokens_per_second: float, lr: float, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and not self.terminal and now - self.last < 5.0:
            return
        self.last = now
        width = 30
        filled = width * step // max(1, self.total)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] step {step}/{self.total}  loss {loss:.4f}  "
            f"{tokens_per_second:,.0f} tokens/s  lr {lr:.2e}"
        )
        sys.stderr.write(("\r" + line) if self.terminal else (line + "\n"))
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.terminal:
            sys.stderr.write("\n")


def atomic_torch_save(obj: Any, path: Path) -> None:
    temporary = path.with_name(path.name + ".tmp")
    torch.save(obj, temporary)
    os.replace(temporary, path)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 -m srformer.torch.finetune",
        description="Fine-tune a T5/BART folder with full, segmented or SRformer cross-attention and export it.",
    )
    parser.add_argument("--model", required=True, help="HuggingFace model folder to start from")
    parser.add_argument("--train", required=True, type=Path, help="training JSONL")
    parser.add_argument("--valid", type=Path, help="validation JSONL (loss every --valid-every steps)")
    parser.add_argument("--out", required=True, type=Path, help="folder to export the model to")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--field", default="document", help="JSONL field of the input (default: document)")
    parser.add_argument("--summary-field", default="summary", help="JSONL field of the target (default: summary)")
    parser.add_argument("--attention", choices=["full", "segmented", "srformer"],
                        help="cross-attention to train (default: the checkpoint's)")
    parser.add_argument("--segment", type=int, help="segment size s (default: the checkpoint's, else T5 64, BART 16)")
    parser.add_argument("--gen-len", type=int, help="decoder length G the segments are spread over (default 128)")
    parser.add_argument("--mode", choices=["paper", "causal"], help="segmented/SRformer semantics (default: paper)")
    parser.add_argument("--max-input-tokens", type=int, default=512)
    parser.add_argument("--max-target-tokens", type=int, default=128)
    parser.add_argument("--steps", type=int, default=1000, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--grad-accum", type=int, default=1, help="batches per optimizer step")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--warmup", type=int, default=0, help="warm-up steps")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--clip", type=float, default=1.0, help="gradient norm clip (0: off)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... or auto")
    parser.add_argument("--valid-every", type=int, default=100)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--resume", action="store_true", help="continue from OUT.checkpoint/")
    parser.add_argument("--stop-after", type=int, default=0,
                        help="end this run after this many steps in total, with a checkpoint and no export "
                             "(continue with --resume; for jobs that must stop in time)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    for name in ("steps", "batch_size", "grad_accum", "max_input_tokens", "max_target_tokens", "valid_every",
                 "checkpoint_every"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.lr <= 0 or not math.isfinite(args.lr):
        parser.error("--lr must be a positive number")
    return args


def attention_options(args: argparse.Namespace, checkpoint: AttentionOptions) -> AttentionOptions:
    """The checkpoint's cross-attention with the flags given applied on top."""
    return AttentionOptions(
        kind=args.attention or checkpoint.kind,
        segment_size=args.segment or checkpoint.segment_size,
        gen_len=args.gen_len or checkpoint.gen_len,
        semantics=args.mode or checkpoint.semantics,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from .config import checkpoint_cross_attention, load_model_config  # heavy: after argument checks
    from .loading import read_checkpoint
    from .models import Seq2SeqLM

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    tokenizer = Tokenizer.from_folder(args.model)
    try:
        train = read_examples(args.train, tokenizer, args.field, args.summary_field, args.max_input_tokens,
                              args.max_target_tokens)
        valid = (read_examples(args.valid, tokenizer, args.field, args.summary_field, args.max_input_tokens,
                               args.max_target_tokens) if args.valid else [])
    except (DataError, OSError) as error:
        print(f"finetune: {error}", file=sys.stderr)
        return 1

    # The checkpoint's own attention, from config.json and the tensor names (safetensors
    # are memory-mapped: no weights are read here), with the flags applied on top.
    config = load_model_config(args.model)
    trained = checkpoint_cross_attention(config, set(read_checkpoint(args.model)))
    options = attention_options(args, trained or AttentionOptions.defaults_for(config.family))
    model = Seq2SeqLM.from_pretrained(args.model, attention=options, fresh_raf=True).to(device)
    model.train()
    pad_id = model.config.pad_token_id

    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if parameter.ndim < 2 or "norm" in name or name.endswith("bias") else decay).append(parameter)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: linear_schedule(step, args.warmup, args.steps))

    checkpoint_dir = args.out.with_name(args.out.name + ".checkpoint")
    step, epoch, batch_index = 0, 0, 0
    log: List[Dict[str, Any]] = []
    if args.resume:
        state_path = checkpoint_dir / "state.pt"
        if not state_path.is_file():
            print(f"finetune: --resume: no checkpoint at {state_path}", file=sys.stderr)
            return 1
        state = torch.load(state_path, map_location=device)
        if state["args"]["model"] != args.model or state["attention"] != vars(options):
            print("finetune: --resume: the checkpoint was made with another model or attention", file=sys.stderr)
            return 1
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, epoch, batch_index, log = state["step"], state["epoch"], state["batch_index"], state["log"]
        torch.set_rng_state(state["torch_rng"])
        print(f"finetune: resumed at step {step}", file=sys.stderr)

    progress = Progress(args.steps, not args.quiet)
    batches = batch_order(len(train), args.batch_size, args.seed, epoch)
    smoothed: Optional[float] = None
    window_tokens, window_start = 0, time.monotonic()
    best_valid: Optional[float] = None
    stop_at = min(args.steps, args.stop_after) if args.stop_after > 0 else args.steps
    while step < stop_at:
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for _ in range(args.grad_accum):
            if batch_index >= len(batches):
                epoch, batch_index = epoch + 1, 0
                batches = batch_order(len(train), args.batch_size, args.seed, epoch)
            batch = {k: v.to(device) for k, v in collate([train[i] for i in batches[batch_index]], pad_id).items()}
            batch_index += 1
            loss = model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"]).loss
            if not torch.isfinite(loss):
                progress.done()
                print(f"finetune: the loss became {float(loss)} at step {step + 1} (epoch {epoch}); stopping. "
                      f"Try a lower --lr (now {args.lr:g}) or --clip; the last checkpoint is in {checkpoint_dir}",
                      file=sys.stderr)
                return EXIT_NON_FINITE
            (loss / args.grad_accum).backward()
            step_loss += float(loss) / args.grad_accum
            window_tokens += token_count(batch)
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        scheduler.step()
        step += 1
        smoothed = step_loss if smoothed is None else 0.9 * smoothed + 0.1 * step_loss
        elapsed = time.monotonic() - window_start
        tokens_per_second = window_tokens / elapsed if elapsed > 0 else 0.0
        entry: Dict[str, Any] = {"step": step, "loss": step_loss, "lr": scheduler.get_last_lr()[0],
                                 "tokens_per_second": tokens_per_second}
        if valid and (step % args.valid_every == 0 or step == args.steps):
            entry["valid_loss"] = validation_loss(model, valid, args.batch_size, pad_id, device)
            best_valid = entry["valid_loss"] if best_valid is None else min(best_valid, entry["valid_loss"])
            if not args.quiet:
                progress.done()
                print(f"finetune: step {step}: validation loss {entry['valid_loss']:.4f}", file=sys.stderr)
        log.append(entry)
        progress.update(step, smoothed, tokens_per_second, entry["lr"], force=step == args.steps)
        if step % args.checkpoint_every == 0 or step == stop_at:
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
            atomic_torch_save(
                {"args": vars(args) | {"train": str(args.train), "valid": str(args.valid), "out": str(args.out)},
                 "attention": vars(options), "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "step": step, "epoch": epoch, "batch_index": batch_index,
                 "log": log, "torch_rng": torch.get_rng_state()},
                checkpoint_dir / "state.pt",
            )
        if elapsed > 10.0:
            window_tokens, window_start = 0, time.monotonic()
    progress.done()
    if step < args.steps:
        print(f"finetune: stopped after step {step} of {args.steps} (--stop-after); continue with --resume",
              file=sys.stderr)
        return 0

    command = "python3 -m srformer.torch.finetune " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    export_folder(
        model.state_dict(), options, args.model, args.out, overwrite=args.overwrite,
        metadata={"srformer_finetune_steps": str(step)},
        extra_files={
            "training_log.jsonl": "".join(json.dumps(e) + "\n" for e in log),
            "training_args.json": json.dumps({"command": command, "attention": vars(options),
                                              "args": {k: str(v) for k, v in vars(args).items()}}, indent=2) + "\n",
        },
    )
    summary = f"finetune: {step} steps, last loss {log[-1]['loss']:.4f}"
    if best_valid is not None:
        summary += f", best validation loss {best_valid:.4f}"
    print(f"{summary}; exported to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
