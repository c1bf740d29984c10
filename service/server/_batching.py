"""Answering the requests that arrive together in one pass of the core.

A suggestion from meta-features is short CPU-bound work on the event loop (see
:meth:`~warmstart.service.server._servicer.CallRunner.compute`), and much of it is a fixed
number of numpy calls per request, whatever the numbers. :class:`Batcher` hands
the calls waiting at once to the core together, so those calls are paid once per
batch (``Recommender.suggest_many``).

gRPC's asyncio server takes new calls in one at a time, each a round trip through
its completion queue, so calls hardly ever reach the batcher in the same loop
turn, even under load. A batch therefore waits up to ``max_wait`` seconds for
company, but only on a server that has company: one that has seen a call arrive
while another was in progress (:meth:`Batcher.attending`), or a pass answer more
than one call, and has not since waited a whole ``max_wait`` in vain
``LONELY_WAITS`` times in a row; and only when the call comes less than
``max_wait`` after the last call or the last pass. A caller on its own, however
quickly it sends its next call, is never in progress alongside another one, so it
is answered at once, on the loop's next turn (after a burst of other calls, its
first ``LONELY_WAITS`` calls wait); a busy server gathers several calls per pass.
One wait in vain does not make a busy server think itself alone: under load from
a client that is itself short of CPU, a call now and then finds nobody coming for
a millisecond, and going alone from then on would cost the batches that follow.

Each call that joins a waiting batch starts the wait again, up to ``SPAN_WAITS``
waits after the batch's first call: on a slow host the server takes in fewer calls
per millisecond, and a fixed wait then gathered half the batch a fast host did
(3.5 against 7 calls at 16 concurrent callers, ``benchmarks/perf/suggest_load.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Generic, TypeVar

__all__ = ["LONELY_WAITS", "SPAN_WAITS", "Batcher"]

log = logging.getLogger("warmstart.server")

LONELY_WAITS = 3
"""Whole waits in a row in which no other call came, after which a server stops waiting."""

SPAN_WAITS = 4
"""Most waits a batch spends gathering in all, however closely its calls follow each other."""

_R = TypeVar("_R")
_A = TypeVar("_A")


class Batcher(Generic[_R, _A]):
    """Gathers requests that arrive together and answers them in one call of ``work``.

    Args:
        work: Answers a list of requests: for each, in order, its answer or the
            exception it raises (an error for one request must not fail the others).
        max_batch: Most requests in one call of ``work``; a batch this full is answered
            without waiting further.
        max_wait: Seconds a batch may wait for the next call while other calls are in
            progress and arrive close together (0: never wait, answer on the loop's
            next turn). Each call that joins starts the wait again, up to
            ``SPAN_WAITS`` waits after the batch's first call.
        on_batch: Told the size of each batch (for metrics).
    """

    def __init__(
        self,
        work: Callable[[list[_R]], Sequence[_A | Exception]],
        *,
        max_batch: int = 32,
        max_wait: float = 0.0,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if not 0.0 <= max_wait <= 1.0:
            raise ValueError(f"max_wait must be in [0, 1] seconds, got {max_wait}")
        self._work = work
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._on_batch = on_batch
        self._waiting: list[tuple[_R, asyncio.Future[_A]]] = []
        self._timer: asyncio.Handle | None = None
        self._last_event = -1e9  # the last arrival or the end of the last pass
        self._in_progress = 0  # calls inside attending()
        self._lonely_waits = LONELY_WAITS  # whole waits in vain since company was last seen
        self._waited = False  # whether the waiting batch waits for company
        self._deadline = 0.0  # loop time by which a waiting batch is answered at the latest

    @contextmanager
    def attending(self) -> Iterator[None]:
        """Count a call as in progress on the server for the duration of the block.

        Wrap a call's whole handling in it (decoding, :meth:`submit`, encoding): a call
        that arrives while another is in progress waits for company, one that finds
        itself alone does not.
        """
        self._in_progress += 1
        try:
            yield
        finally:
            self._in_progress -= 1

    async def submit(self, request: _R) -> _A:
        """The answer to one request, computed with the others of its batch.

        Raises:
            Exception: What ``work`` gave for this request.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_A] = loop.create_future()
        now = time.monotonic()
        if self._in_progress > 1:
            self._lonely_waits = 0
        if not self._waiting:
            company = self._lonely_waits < LONELY_WAITS
            self._waited = company and now - self._last_event < self._max_wait
            if self._waited:  # busy: wait for company
                self._deadline = loop.time() + SPAN_WAITS * self._max_wait
                self._timer = loop.call_later(self._max_wait, self._flush)
            else:
                self._timer = loop.call_soon(self._flush)
        elif self._waited and self._timer is not None:
            # Company came: wait again for the next one, within the batch's span.
            self._timer.cancel()
            when = min(loop.time() + self._max_wait, self._deadline)
            self._timer = loop.call_at(when, self._flush)
        self._last_event = now
        self._waiting.append((request, future))
        if len(self._waiting) >= self._max_batch and self._timer is not None:
            self._timer.cancel()
            self._timer = loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._timer = None
        waiting, self._waiting = self._waiting, []
        # A call cancelled while waiting (its client left, its deadline passed) is dropped.
        live = [(request, future) for request, future in waiting if not future.done()]
        if len(live) > 1:
            self._lonely_waits = 0
        elif self._waited:  # a whole wait, and no company came
            self._lonely_waits += 1
        for start in range(0, len(live), self._max_batch):
            batch = live[start : start + self._max_batch]
            if self._on_batch is not None:
                self._on_batch(len(batch))
            self._answer(batch)
        self._last_event = time.monotonic()

    def _answer(self, batch: list[tuple[_R, asyncio.Future[_A]]]) -> None:
        try:
            answers = list(self._work([request for request, _ in batch]))
            if len(answers) != len(batch):
                raise RuntimeError(f"{len(answers)} answers to {len(batch)} requests")
        except Exception as exc:
            if len(batch) == 1:
                answers = [exc]
            else:
                # A fault the work did not attribute to a request (a bug): answer each
                # alone, so that only the request that causes it fails.
                log.warning("a batch of %d requests failed; answering each alone", len(batch))
                for item in batch:
                    self._answer([item])
                return
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():
                continue
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)
