"""The GIL is released while the C++ library works, so other Python threads run
(and several threads can summarize with one loaded model). No timed assertion:
with a switch interval far longer than the test, a thread that holds the GIL keeps
it until it releases it, so "the counter moved during the call" happens only when
the call released the GIL."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

import pytest

import srformer


class Counter:
    """A thread that counts while it can get the GIL (and gives it back at every step)."""

    def __init__(self) -> None:
        self.value = 0
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self._started.set()
        while not self._stop.is_set():
            self.value += 1
            time.sleep(0)  # releases the GIL, so the main thread always gets it back

    def __enter__(self) -> "Counter":
        self._thread.start()
        self._started.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def long_switch_interval() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def counts_during(call: Callable[[], object]) -> int:
    with Counter() as counter:
        before = counter.value
        call()
        after = counter.value
    return after - before


def test_counter_stands_still_while_python_holds_the_gil(long_switch_interval):
    # The control: a pure-Python busy loop holds the GIL throughout.
    def busy() -> None:
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            pass

    assert counts_during(busy) == 0


def test_summarize_releases_the_gil(long_switch_interval, summarizer, demo_documents):
    assert counts_during(lambda: summarizer.summarize(demo_documents[:4], num_beams=2)) > 0


def test_model_and_tokenizer_release_the_gil(long_switch_interval, demo_model, demo_documents):
    model = srformer.Model.from_folder(demo_model)
    tokenizer = srformer.Tokenizer.from_folder(demo_model)
    long_text = " ".join(demo_documents) * 4
    assert counts_during(lambda: tokenizer.encode_batch([long_text] * 4)) > 0
    ids = tokenizer.encode_batch(demo_documents[:8], max_length=512)
    assert counts_during(lambda: model.encode(ids)) > 0
    encoded = model.encode(ids)
    assert counts_during(lambda: model.generate(encoded, max_new_tokens=32, min_new_tokens=32)) > 0


def test_threads_share_one_summarizer(summarizer, demo_documents):
    documents = demo_documents[:8]
    serial = [summarizer.summarize(d).ids for d in documents]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda d: summarizer.summarize(d).ids, documents))
    assert parallel == serial
