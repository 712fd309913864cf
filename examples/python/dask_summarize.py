#!/usr/bin/env python3
"""Summarize a JSON Lines corpus on a Dask cluster with srformer.

Input and output follow the C++ ``summarize --jsonl`` tool: one JSON object per
line with the document in ``--field`` (default ``document``); blank lines are
skipped; every object is written back, in input order, with its fields in their
order and the summary added last as ``--summary-field`` (default
``summary_text``, the key of Hugging Face's summarization pipeline).

Each worker process loads ONE ``srformer.Summarizer`` when it starts (a
``distributed.WorkerPlugin``); tasks of ``--batch-size`` documents use it
through ``distributed.get_worker()``. A worker with several threads shares its
Summarizer between them (it is immutable and releases the GIL).

On this machine, with a LocalCluster of 2 worker processes (1 thread each)::

    PYTHONPATH=build/python python3 examples/python/dask_summarize.py \\
        --input docs.jsonl --output out.jsonl --workers 2

On an existing cluster (Dask 2022.12 names the commands ``dask scheduler`` and
``dask worker``; ``dask-scheduler`` / ``dask-worker`` still work but are
deprecated)::

    dask scheduler                                         # listens on tcp://HOST:8786
    dask worker tcp://HOST:8786 --nworkers 2 --nthreads 1  # on each machine
    python3 examples/python/dask_summarize.py --scheduler tcp://HOST:8786 \\
        --model /models/bart-large-cnn --input docs.jsonl --output out.jsonl

The workers need ``srformer`` importable (the same PYTHONPATH) and the model
folder at the same absolute path (a relative ``--model`` is made absolute here);
this script itself need not be installed on them: its plugin and task functions
travel to the workers by value (cloudpickle).

Options: ``--threads`` (srformer kernel threads per worker process, default 1),
``--batch-size`` (documents per task and padded batch, default 8),
``--num-beams``, ``--max-new-tokens``, ``--min-new-tokens``,
``--length-penalty``, ``--no-repeat-ngram-size`` (only those given are passed;
the rest come from the model folder's generation config), ``--attention``,
``--segment``, ``--mode`` (the Summarizer's cross-attention) and ``--quiet``
(no progress and no final report). Progress goes to standard error as tasks
complete; at the end the documents, workers, wall seconds, documents/s and
output tokens/s are printed there too.

The input is read twice and never held in memory: a first pass checks every
line (a bad line fails the run before any work starts, naming the line, and
nothing is written), a second pass submits tasks, keeping at most a few tasks
per worker thread between submission and writing. ``--output FILE`` is written
to a temporary file in the same folder and renamed over FILE only when
everything was written (so ``--output`` may name the input); without
``--output`` the lines go to standard output as they are ready.

Exit status: 0 on success, 1 on an error (message on standard error), 2 on a
bad command line.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import stat
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Dict, Iterable, Iterator, List, Optional, Sequence, Set

import distributed
from distributed import Client, Future, LocalCluster, WorkerPlugin

if TYPE_CHECKING:  # only for the annotations; the workers import srformer themselves
    import srformer

PROG = "dask_summarize"
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "t5-demo"
DEFAULT_FIELD = "document"
DEFAULT_SUMMARY_FIELD = "summary_text"
# Tasks allowed between submission and writing, per worker thread: enough to keep
# every thread busy while a slow task holds up the in-order output, few enough to
# keep the client's memory independent of the corpus size.
PENDING_TASKS_PER_THREAD = 4
# Generation options of the command line, passed only when given (HF GenerationConfig names).
GENERATION_OPTIONS = ("num_beams", "max_new_tokens", "min_new_tokens", "length_penalty", "no_repeat_ngram_size")


class UserError(Exception):
    """A failure to report as one message and exit status 1 (bad input, a failed task, ...)."""


# --------------------------------------------------------------------------- worker side
# Everything a worker runs is defined at module level: run as a script, this module is
# __main__, and Dask sends these classes and functions to the workers by value.


class SummarizerPlugin(WorkerPlugin):
    """Loads one srformer.Summarizer in each worker process, once, when the plugin is
    registered (or when a worker joins later); tasks find it as
    ``get_worker().plugins[name].summarizer``."""

    def __init__(self, name: str, model_dir: str, options: Dict[str, Any], threads: int) -> None:
        self.name = name  # the registration name; unique per run of this script
        self.model_dir = model_dir
        self.options = options
        self.threads = threads
        self.summarizer: Optional["srformer.Summarizer"] = None

    async def setup(self, worker: distributed.Worker) -> None:
        """Loads the model off the event loop (the constructor releases the GIL), so the
        worker keeps answering the scheduler while a large checkpoint loads."""
        import srformer

        def load() -> "srformer.Summarizer":
            return srformer.Summarizer(self.model_dir, threads=self.threads, **self.options)

        self.summarizer = await asyncio.get_running_loop().run_in_executor(None, load)

    def teardown(self, worker: distributed.Worker) -> None:
        """Drops the Summarizer (and with it the model's memory)."""
        self.summarizer = None


def summarize_chunk(plugin_name: str, documents: List[str], generation: Dict[str, Any]) -> Dict[str, Any]:
    """One task: `documents` summarized as one padded batch by this worker's Summarizer.

    Returns plain data only: the summaries' texts, the indexes of documents cut to the
    model's input limit, token counts, encode/decode seconds and the worker's address.
    """
    worker = distributed.get_worker()
    plugin = worker.plugins.get(plugin_name)
    summarizer = getattr(plugin, "summarizer", None)
    if summarizer is None:
        raise RuntimeError(
            f"worker {worker.address} has no Summarizer: the worker plugin {plugin_name!r} was not set up on it"
        )
    batch = summarizer.summarize(documents, **generation)
    stats = batch.stats
    return {
        "texts": [summary.text for summary in batch],
        "truncated": [i for i, summary in enumerate(batch) if summary.input_truncated],
        "input_tokens": int(stats.input_tokens),
        "output_tokens": int(stats.output_tokens),
        "encode_seconds": float(stats.encode_seconds),
        "decode_seconds": float(stats.decode_seconds),
        "worker": worker.address,
    }


# --------------------------------------------------------------------------- input


def printable(text: str, limit: int = 200) -> str:
    """`text` with control characters escaped and cut to `limit` characters, for messages."""
    cut = text if len(text) <= limit else text[:limit] + "..."
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii") for c in cut)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


@dataclass
class Record:
    """One document line: its 1-based line number, its object and its document."""

    line: int
    obj: Dict[str, Any]
    document: str


def read_records(stream: Iterable[bytes], name: str, field_name: str, summary_field: str) -> Iterator[Record]:
    """The non-blank lines of `stream`, checked as the C++ tool checks them: UTF-8, a JSON
    object, a non-blank string in `field_name`, no `summary_field` yet. UserError naming
    the line otherwise."""
    for number, raw in enumerate(stream, start=1):
        where = f"{name} line {number}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise UserError(f"{where} is not valid UTF-8 (byte {e.start})") from None
        if not text.strip():
            continue
        try:
            obj = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as e:
            raise UserError(f"{where}: invalid JSON: {printable(str(e))}") from None
        if not isinstance(obj, dict):
            raise UserError(f"{where} is not a JSON object")
        if field_name not in obj:
            raise UserError(f"{where} has no field '{printable(field_name)}'")
        document = obj[field_name]
        if not isinstance(document, str):
            raise UserError(f"{where}: field '{printable(field_name)}' is not a string")
        if not document.strip():
            raise UserError(f"{where}: field '{printable(field_name)}' is empty")
        if summary_field in obj:
            raise UserError(
                f"{where} already has a field '{printable(summary_field)}'; "
                "choose another output field with --summary-field"
            )
        yield Record(number, obj, document)


class Input:
    """The input, readable twice: a file is opened again, standard input is spooled to
    an unnamed temporary file during the first pass."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = "standard input" if path == "-" else path
        self._spool: Optional[IO[bytes]] = None

    def check(self, field_name: str, summary_field: str) -> int:
        """First pass: checks every line; returns the number of documents."""
        if self.path == "-":
            self._spool = tempfile.TemporaryFile()
            lines = self._tee(sys.stdin.buffer, self._spool)
            count = sum(1 for _ in read_records(lines, self.name, field_name, summary_field))
        else:
            with self._open() as stream:
                count = sum(1 for _ in read_records(stream, self.name, field_name, summary_field))
        if count == 0:
            raise UserError(f"{self.name} holds no documents")
        return count

    def records(self, field_name: str, summary_field: str) -> Iterator[Record]:
        """Second pass: the records again (checked again: the file may have changed)."""
        if self._spool is not None:
            self._spool.seek(0)
            yield from read_records(self._spool, self.name, field_name, summary_field)
            return
        with self._open() as stream:
            yield from read_records(stream, self.name, field_name, summary_field)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()

    def _open(self) -> BinaryIO:
        try:
            return open(self.path, "rb")
        except OSError as e:
            raise UserError(f"cannot open input file '{printable(self.path)}': {e.strerror}") from None

    @staticmethod
    def _tee(source: Iterable[bytes], copy: IO[bytes]) -> Iterator[bytes]:
        for raw in source:
            copy.write(raw)
            yield raw


def chunks(records: Iterable[Record], size: int) -> Iterator[List[Record]]:
    """`records` in lists of `size` (the last one shorter)."""
    iterator = iter(records)
    while True:
        chunk = list(itertools.islice(iterator, size))
        if not chunk:
            return
        yield chunk


# --------------------------------------------------------------------------- output


class Output:
    """Where the lines go: standard output as they come, or a file written atomically (a
    temporary file in the target's folder renamed over it by commit(); discard() or an
    error leaves the target as it was). A symbolic link is followed; a target that is
    not a regular file (/dev/null, a FIFO) is written directly."""

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        self._temporary: Optional[str] = None
        self._destination: Optional[str] = None
        self._file: Optional[IO[bytes]] = None
        if path is None or path == "-":
            self._stream: IO[bytes] = sys.stdout.buffer
            return
        destination = os.path.realpath(path)
        if os.path.isdir(destination):
            self._fail("is a directory")
        if os.path.exists(destination) and not stat.S_ISREG(os.stat(destination).st_mode):
            try:
                self._file = open(destination, "wb")  # a device or pipe: rename cannot replace it
            except OSError as e:
                self._fail(f"cannot open for writing: {e.strerror}")
            self._stream = self._file
            return
        folder = os.path.dirname(destination) or "."
        try:
            fd, self._temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(destination)}.")
        except OSError as e:
            self._fail(f"cannot create a temporary file in {printable(folder)}: {e.strerror}")
        # mkstemp makes the file 0600: keep the replaced file's mode, or the umask's default.
        try:
            mode = stat.S_IMODE(os.stat(destination).st_mode)
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.fchmod(fd, mode)
        self._destination = destination
        self._file = os.fdopen(fd, "wb")
        self._stream = self._file

    def write_line(self, text: str) -> None:
        self._stream.write(text.encode("utf-8") + b"\n")

    def flush(self) -> None:
        if self._file is None:
            self._stream.flush()

    def commit(self) -> None:
        """Flushes and, for a file, syncs it and renames it into place."""
        try:
            self._stream.flush()
            if self._file is not None:
                if self._temporary is not None:
                    os.fsync(self._file.fileno())
                self._file.close()
                if self._temporary is not None and self._destination is not None:
                    os.replace(self._temporary, self._destination)
                    self._temporary = None
        except OSError as e:
            self.discard()
            self._fail(f"writing failed ({e.strerror}); the file was left unchanged")

    def discard(self) -> None:
        """Removes the temporary file, if any: the target keeps its old contents."""
        if self._file is not None and not self._file.closed:
            self._file.close()
        if self._temporary is not None:
            try:
                os.unlink(self._temporary)
            except OSError:
                pass
            self._temporary = None

    def _fail(self, why: str) -> None:
        raise UserError(f"output file '{printable(str(self.path))}': {why}")


def output_line(record: Record, summary_field: str, summary: str) -> str:
    """The record's object with the summary added last, as compact JSON (the C++ tool's format)."""
    obj = record.obj
    obj[summary_field] = summary
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- progress and totals


class Progress:
    """Documents done / total and documents/s on standard error: redrawn in place on a
    terminal, otherwise a line every few seconds and at the end."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.terminal = sys.stderr.isatty()
        self.start = time.perf_counter()
        self.last_print = -1e9

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        finished = done >= self.total
        if not finished and now - self.last_print < (0.2 if self.terminal else 5.0):
            return
        self.last_print = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        line = f"{PROG}: {done}/{self.total} documents ({100.0 * done / self.total:.0f}%), {rate:.1f} documents/s"
        if self.terminal:
            sys.stderr.write("\r" + line + ("\n" if finished else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


@dataclass
class Totals:
    """What the tasks report, summed."""

    documents: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    encode_seconds: float = 0.0
    decode_seconds: float = 0.0
    truncated: int = 0
    first_truncated_line: Optional[int] = None
    workers_used: Set[str] = field(default_factory=set)

    def add(self, chunk: List[Record], result: Dict[str, Any]) -> None:
        self.documents += len(chunk)
        self.input_tokens += result["input_tokens"]
        self.output_tokens += result["output_tokens"]
        self.encode_seconds += result["encode_seconds"]
        self.decode_seconds += result["decode_seconds"]
        self.workers_used.add(result["worker"])
        for i in result["truncated"]:
            self.truncated += 1
            if self.first_truncated_line is None or chunk[i].line < self.first_truncated_line:
                self.first_truncated_line = chunk[i].line


# --------------------------------------------------------------------------- the run


def summarize_corpus(
    client: Client,
    records: Iterable[Record],
    plugin_name: str,
    generation: Dict[str, Any],
    batch_size: int,
    max_pending: int,
    output: Output,
    summary_field: str,
    input_name: str,
    progress: Progress,
) -> Totals:
    """Submits chunks of `batch_size` records (at most `max_pending` between submission
    and writing), collects them as they complete and writes them in input order."""
    run = uuid.uuid4().hex[:8]
    source = enumerate(chunks(records, batch_size))
    completed = distributed.as_completed()
    in_flight: Dict[Future, int] = {}
    waiting: Dict[int, List[Record]] = {}  # chunk index -> records, submitted and not written yet
    finished: Dict[int, Dict[str, Any]] = {}  # chunk index -> result, done and not written yet
    next_to_write = 0
    totals = Totals()
    exhausted = False

    def submit_more() -> None:
        nonlocal exhausted
        while not exhausted and len(waiting) < max_pending:
            item = next(source, None)
            if item is None:
                exhausted = True
                return
            index, chunk = item
            future = client.submit(
                summarize_chunk,
                plugin_name,
                [record.document for record in chunk],
                generation,
                key=f"srformer-summarize-{run}-{index}",
                pure=False,
            )
            waiting[index] = chunk
            in_flight[future] = index
            completed.add(future)

    submit_more()
    for future in completed:
        index = in_flight.pop(future)
        chunk = waiting[index]
        try:
            result = future.result()
        except Exception as e:  # the task's own exception, re-raised here
            raise UserError(
                f"{input_name} lines {chunk[0].line}-{chunk[-1].line}: {type(e).__name__}: {printable(str(e), 1000)}"
            ) from None
        finally:
            future.release()
        finished[index] = result
        totals.add(chunk, result)
        while next_to_write in finished:
            done = finished.pop(next_to_write)
            for record, text in zip(waiting.pop(next_to_write), done["texts"]):
                output.write_line(output_line(record, summary_field, text))
            next_to_write += 1
        output.flush()
        progress.update(totals.documents)
        submit_more()
    return totals


def plugin_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The Summarizer keywords given on the command line."""
    return {name: getattr(args, name) for name in ("attention", "segment", "mode") if getattr(args, name) is not None}


def generation_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The generation keywords given on the command line (the rest: the model's defaults)."""
    return {name: getattr(args, name) for name in GENERATION_OPTIONS if getattr(args, name) is not None}


def report(totals: Totals, workers: int, threads: int, startup: float, wall: float, kernel_threads: int) -> None:
    rate = totals.documents / wall if wall > 0 else 0.0
    tokens_rate = totals.output_tokens / wall if wall > 0 else 0.0
    lines = [
        f"documents         {totals.documents} ({totals.truncated} cut to the model's input limit)",
        f"workers           {workers} ({threads} thread{'s' if threads != 1 else ''} in all, {kernel_threads} kernel thread"
        f"{'s' if kernel_threads != 1 else ''} each; {len(totals.workers_used)} ran tasks)",
        f"start-up          {startup:.2f} s (cluster and model loading)",
        f"wall              {wall:.2f} s (summarizing and writing)",
        f"documents/s       {rate:.2f}",
        f"output tokens/s   {tokens_rate:.1f} ({totals.output_tokens} tokens; {totals.input_tokens} tokens in)",
        f"encode / decode   {totals.encode_seconds:.2f} s / {totals.decode_seconds:.2f} s (summed over tasks)",
    ]
    sys.stderr.write("".join(line + "\n" for line in lines))


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Summarize a JSON Lines corpus on a Dask cluster with srformer (one Summarizer per worker).",
    )
    io = parser.add_argument_group("input and output")
    io.add_argument("--input", required=True, metavar="FILE", help="JSON Lines file, one object per line ('-' = stdin)")
    io.add_argument("--output", metavar="FILE", help="JSON Lines output, written atomically (default: stdout)")
    io.add_argument("--field", default=DEFAULT_FIELD, help="field holding the document (default: %(default)s)")
    io.add_argument(
        "--summary-field", default=DEFAULT_SUMMARY_FIELD, help="field the summary is written to (default: %(default)s)"
    )
    io.add_argument("--quiet", action="store_true", help="no progress and no final report on stderr")
    cluster = parser.add_argument_group("cluster")
    cluster.add_argument("--scheduler", metavar="ADDRESS", help="existing scheduler (tcp://host:8786); default: a LocalCluster")
    cluster.add_argument("--workers", type=positive_int, default=2, help="LocalCluster worker processes (default: %(default)s)")
    cluster.add_argument(
        "--threads-per-worker", type=positive_int, default=1, help="LocalCluster threads per worker (default: %(default)s)"
    )
    cluster.add_argument(
        "--threads", type=positive_int, default=1, help="srformer kernel threads per worker process (default: %(default)s)"
    )
    cluster.add_argument(
        "--batch-size", type=positive_int, default=8, help="documents per task, one padded batch (default: %(default)s)"
    )
    model = parser.add_argument_group("model")
    model.add_argument("--model", default=str(DEFAULT_MODEL), metavar="DIR", help="model folder (default: the bundled demo model)")
    model.add_argument("--attention", choices=("full", "segmented", "srformer"), help="cross-attention kind")
    model.add_argument("--segment", type=positive_int, help="cross-attention segment size")
    model.add_argument("--mode", choices=("paper", "causal"), help="SRformer semantics")
    gen = parser.add_argument_group("generation (default: the model folder's generation config)")
    gen.add_argument("--num-beams", type=positive_int)
    gen.add_argument("--max-new-tokens", type=positive_int)
    gen.add_argument("--min-new-tokens", type=int)
    gen.add_argument("--length-penalty", type=float)
    gen.add_argument("--no-repeat-ngram-size", type=int)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    source = Input(args.input)
    output: Optional[Output] = None
    cluster: Optional[LocalCluster] = None
    client: Optional[Client] = None
    plugin_name = f"srformer-summarizer-{uuid.uuid4().hex[:12]}"
    plugin_registered = False
    try:
        # Every line is checked before anything starts or is written.
        total = source.check(args.field, args.summary_field)
        output = Output(args.output)
        started = time.perf_counter()
        log_level = logging.ERROR if args.quiet else logging.WARNING
        if args.scheduler:
            client = Client(args.scheduler)
        else:
            # Worker processes share the cores: OpenMP threads that wait for work should
            # sleep rather than spin (set before the workers start; they inherit it).
            os.environ.setdefault("OMP_WAIT_POLICY", "passive")
            cluster = LocalCluster(
                n_workers=args.workers,
                threads_per_worker=args.threads_per_worker,
                processes=True,
                dashboard_address=":0",  # any free port (None would still try 8787 and warn)
                silence_logs=log_level,
            )
            client = Client(cluster)
        if not client.scheduler_info()["workers"]:
            if not args.quiet:
                sys.stderr.write(f"{PROG}: waiting for a worker to join {args.scheduler}\n")
            client.wait_for_workers(1)
        model_dir = os.path.abspath(args.model)
        plugin = SummarizerPlugin(plugin_name, model_dir, plugin_options(args), args.threads)
        plugin_registered = True  # even a failed setup leaves the plugin registered
        try:
            client.register_worker_plugin(plugin, name=plugin_name)
        except Exception as e:
            hint = " (is srformer on the workers' PYTHONPATH?)" if isinstance(e, ImportError) else ""
            raise UserError(
                f"loading the model '{printable(model_dir)}' on the workers failed: "
                f"{type(e).__name__}: {printable(str(e), 1000)}{hint}"
            ) from None
        workers = client.scheduler_info()["workers"]
        threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        startup = time.perf_counter() - started

        begin = time.perf_counter()
        totals = summarize_corpus(
            client,
            source.records(args.field, args.summary_field),
            plugin_name,
            generation_options(args),
            args.batch_size,
            max(2, PENDING_TASKS_PER_THREAD * threads),
            output,
            args.summary_field,
            source.name,
            Progress(total, enabled=not args.quiet),
        )
        output.commit()
        wall = time.perf_counter() - begin
        if not args.quiet:
            if totals.truncated:
                sys.stderr.write(
                    f"{PROG}: warning: {totals.truncated} of {totals.documents} documents were longer than the "
                    f"model's input limit and were cut; first: {source.name} line {totals.first_truncated_line}\n"
                )
            report(totals, len(workers), threads, startup, wall, args.threads)
        return 0
    except UserError as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    finally:
        if output is not None:
            output.discard()  # nothing left to discard after a commit
        if client is not None:
            if plugin_registered and cluster is None:
                try:  # free the model on the workers of a shared cluster
                    client.unregister_worker_plugin(plugin_name)
                except Exception:
                    pass
            client.close()
        if cluster is not None:
            cluster.close()
        source.close()


if __name__ == "__main__":
    sys.exit(main())
