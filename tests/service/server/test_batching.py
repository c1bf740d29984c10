"""The server's Batcher: calls that arrive together are answered in one pass, each its own way."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from warmstart.metamodel.errors import InvalidRequestError
from warmstart.service.server._batching import LONELY_WAITS, SPAN_WAITS, Batcher


class _Work:
    """Doubles numbers; a negative one is a bad request, 13 a bug that fails the whole pass."""

    def __init__(self) -> None:
        self.passes: list[list[int]] = []

    def __call__(self, requests: list[int]) -> Sequence[int | Exception]:
        self.passes.append(list(requests))
        if 13 in requests:
            raise RuntimeError("unlucky")
        return [InvalidRequestError(f"{r} < 0") if r < 0 else 2 * r for r in requests]


def test_calls_arriving_together_share_one_pass_and_get_their_own_answers() -> None:
    work, sizes = _Work(), list[int]()

    async def main() -> list[int | BaseException]:
        batcher = Batcher(work, on_batch=sizes.append)
        return await asyncio.gather(
            *(batcher.submit(r) for r in (1, -2, 3)), return_exceptions=True
        )

    answers = asyncio.run(main())
    assert work.passes == [[1, -2, 3]]
    assert sizes == [3]
    assert answers[0] == 2
    assert answers[2] == 6
    assert isinstance(answers[1], InvalidRequestError)
    assert str(answers[1]) == "-2 < 0"


def test_a_lone_call_and_later_calls_get_passes_of_their_own() -> None:
    work = _Work()

    async def main() -> list[int]:
        batcher = Batcher(work)
        first = await batcher.submit(5)
        return [first, *await asyncio.gather(batcher.submit(6), batcher.submit(7))]

    assert asyncio.run(main()) == [10, 12, 14]
    assert work.passes == [[5], [6, 7]]


def test_a_pass_that_fails_as_a_whole_is_answered_call_by_call() -> None:
    """Only the request that breaks the work fails; the others still get their answers."""
    work = _Work()

    async def main() -> list[int | BaseException]:
        batcher = Batcher(work)
        return await asyncio.gather(
            *(batcher.submit(r) for r in (1, 13, 2)), return_exceptions=True
        )

    answers = asyncio.run(main())
    assert answers[0] == 2
    assert answers[2] == 4
    assert isinstance(answers[1], RuntimeError)
    assert str(answers[1]) == "unlucky"
    assert work.passes == [[1, 13, 2], [1], [13], [2]]


def test_a_pass_holds_at_most_max_batch_and_cancelled_calls_are_dropped() -> None:
    work, sizes = _Work(), list[int]()

    async def main() -> list[int]:
        batcher = Batcher(work, max_batch=2, on_batch=sizes.append)
        calls = [asyncio.ensure_future(batcher.submit(r)) for r in range(5)]
        await asyncio.sleep(0)  # every call is waiting now
        calls[1].cancel()
        kept = [c for i, c in enumerate(calls) if i != 1]
        return list(await asyncio.gather(*kept))

    assert asyncio.run(main()) == [0, 4, 6, 8]
    assert work.passes == [[0, 2], [3, 4]]
    assert sizes == [2, 2]


def test_work_giving_the_wrong_number_of_answers_fails_each_call_clearly() -> None:
    async def main() -> list[int | BaseException]:
        batcher: Batcher[int, int] = Batcher(lambda requests: [])
        calls = (batcher.submit(1), batcher.submit(2))
        return list(await asyncio.gather(*calls, return_exceptions=True))

    for answer in asyncio.run(main()):
        assert isinstance(answer, RuntimeError)
        assert str(answer) == "0 answers to 1 requests"


async def _call(batcher: Batcher[int, int], value: int, until: asyncio.Event | None = None) -> int:
    """One call as the server handles it: in progress from its arrival until its answer,
    or until ``until`` is set if that comes later (the encoding, standing in for any work
    after the pass)."""
    with batcher.attending():
        answer = await batcher.submit(value)
        if until is not None:
            await until.wait()
        return answer


def test_a_busy_server_waits_for_company_and_a_lone_call_does_not_wait() -> None:
    """Calls that come one loop turn apart are answered apart without a wait; with one,
    calls arriving while others are in progress share a pass, and the first after a
    quiet spell is answered at once."""

    async def stream(batcher: Batcher[int, int], values: range) -> list[int]:
        # Each call stays in progress until the last has arrived, however slow the host.
        calls, all_in = [], asyncio.Event()
        for value in values:
            calls.append(asyncio.ensure_future(_call(batcher, value, until=all_in)))
            await asyncio.sleep(0.0005)  # the next call comes half a millisecond later
        all_in.set()
        return list(await asyncio.gather(*calls))

    async def main(max_wait: float) -> tuple[list[list[int]], float]:
        work = _Work()
        batcher = Batcher(work, max_wait=max_wait)
        assert await stream(batcher, range(6)) == [0, 2, 4, 6, 8, 10]
        await asyncio.sleep(max_wait + 0.1)  # quiet
        start = asyncio.get_running_loop().time()
        assert await _call(batcher, 7) == 14
        return work.passes, asyncio.get_running_loop().time() - start

    passes, lone = asyncio.run(main(0.0))
    assert passes == [[0], [1], [2], [3], [4], [5], [7]]
    passes, lone = asyncio.run(main(1.0))
    # The first call found the server quiet and went alone; the rest came while it was
    # in progress and waited for one another (1 s is far longer than the stream).
    assert passes == [[0], [1, 2, 3, 4, 5], [7]]
    assert lone < 0.5  # after the quiet spell, no wait


def test_a_lone_caller_sending_each_call_at_once_never_waits() -> None:
    """A caller on its own that sends its next call the moment it has its answer comes
    well within max_wait of the last pass, but nobody is ever in progress beside it."""

    async def main() -> tuple[list[list[int]], float]:
        work = _Work()
        batcher = Batcher(work, max_wait=1.0)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for value in range(5):
            assert await _call(batcher, value) == 2 * value
        return work.passes, loop.time() - start

    passes, seconds = asyncio.run(main())
    assert passes == [[0], [1], [2], [3], [4]]
    assert seconds < 0.5  # one wait would be 1 s


def test_after_a_burst_a_lone_caller_waits_only_its_first_few_calls() -> None:
    """Company seen (a pass of several calls) makes the next calls wait; LONELY_WAITS whole
    waits in a row in which nobody came show the caller is alone, and its later calls go
    at once. One wait in vain is not enough: a busy server sees those now and then."""
    wait = 0.5

    async def main() -> tuple[list[list[int]], float]:
        work = _Work()
        batcher = Batcher(work, max_wait=wait)
        assert await asyncio.gather(*(_call(batcher, v) for v in (1, 2, 3))) == [2, 4, 6]
        loop = asyncio.get_running_loop()
        start = loop.time()
        for value in range(20, 20 + LONELY_WAITS + 3):
            assert await _call(batcher, value) == 2 * value
        return work.passes, loop.time() - start

    passes, seconds = asyncio.run(main())
    assert passes == [[1, 2, 3], *([v] for v in range(20, 20 + LONELY_WAITS + 3))]
    # The first LONELY_WAITS lone calls each waited out the wait; none of the others did.
    assert LONELY_WAITS * wait <= seconds < (LONELY_WAITS + 1) * wait


def test_a_full_batch_is_answered_without_waiting() -> None:
    async def main() -> tuple[list[list[int]], float]:
        work = _Work()
        batcher = Batcher(work, max_batch=3, max_wait=1.0)
        # A pass of two: now the server has company, and the next call would wait.
        assert list(await asyncio.gather(_call(batcher, 0), _call(batcher, 1))) == [0, 2]
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert await asyncio.gather(*(_call(batcher, r) for r in (2, 3, 4))) == [4, 6, 8]
        return work.passes, loop.time() - start

    passes, seconds = asyncio.run(main())
    assert passes == [[0, 1], [2, 3, 4]]
    assert seconds < 0.5  # full: answered long before the wait ran out


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch must be >= 1, got 0"):
        Batcher(_Work(), max_batch=0)
    with pytest.raises(ValueError, match=r"max_wait must be in \[0, 1\] seconds, got -1"):
        Batcher(_Work(), max_wait=-1)


def test_a_batch_waits_while_company_keeps_coming_within_its_span() -> None:
    """Each call that joins a waiting batch starts the wait again, so a stream of calls
    closer together than the wait shares one pass however long it lasts, up to
    SPAN_WAITS waits after the batch's first call."""
    wait, gap = 0.5, 0.1

    async def main(n: int) -> list[list[int]]:
        work = _Work()
        batcher = Batcher(work, max_wait=wait)
        calls, all_in = [], asyncio.Event()
        for value in range(100, 100 + n):
            calls.append(asyncio.ensure_future(_call(batcher, value, until=all_in)))
            await asyncio.sleep(gap)
        all_in.set()
        assert await asyncio.gather(*calls) == [2 * v for v in range(100, 100 + n)]
        return work.passes

    # 8 calls 0.1 s apart: the stream outlasts one wait (0.5 s) but not the span (2 s).
    assert asyncio.run(main(8)) == [[100], list(range(101, 108))]
    # 30 calls (3 s): the span ends a pass, and the calls after it form the next.
    passes = asyncio.run(main(30))
    assert passes[0] == [100]
    assert len(passes) >= 3
    assert [v for p in passes for v in p] == list(range(100, 130))
    assert max(len(p) for p in passes) <= SPAN_WAITS * wait / gap + 1
