"""The write lock: first come, first served, each waiter for at most its own wait."""

from __future__ import annotations

import asyncio

from squall.sqlite._database import Failure
from squall.sqlite._lock import WriteLock


def test_turns_in_arrival_order_and_a_waiter_past_its_wait_is_refused() -> None:
    async def scenario() -> list[str]:
        lock = WriteLock()
        seen: list[str] = []

        def want(name: str, wait: float) -> None:
            lock.acquire(
                name,
                wait,
                lambda: seen.append(f"{name} writes"),
                lambda f: seen.append(f"{name}: {f.message.split(':')[0]} ({f.code})"),
            )

        want("a", 1.0)
        want("b", 1.0)
        want("impatient", 0.01)
        want("c", 1.0)
        await asyncio.sleep(0.05)
        lock.release("b")  # not the holder: nothing happens
        lock.release("a")
        lock.release("b")
        assert lock.holder == "c"
        lock.release("c")
        assert lock.holder is None
        return seen

    assert asyncio.run(scenario()) == [
        "a writes",
        "impatient: database is locked (SQLITE_BUSY)",
        "b writes",
        "c writes",
    ]


def test_a_gone_waiter_is_skipped() -> None:
    async def scenario() -> object:
        lock = WriteLock()
        refused: list[Failure] = []
        lock.acquire("a", 1.0, lambda: None, refused.append)
        lock.acquire("gone", 0.01, lambda: None, refused.append)
        lock.acquire("c", 1.0, lambda: None, refused.append)
        lock.cancel("gone")
        await asyncio.sleep(0.05)
        lock.release("a")
        assert refused == []
        return lock.holder

    assert asyncio.run(scenario()) == "c"


def test_grants_that_release_at_once_do_not_nest() -> None:
    """Hundreds of waiters whose turn ends as it starts are served in a loop, not by
    recursion (a long queue would otherwise exhaust the stack)."""

    async def scenario() -> int:
        lock = WriteLock()
        served: list[int] = []
        lock.acquire("first", 1.0, lambda: None, lambda f: None)
        for n in range(3000):

            def granted(n: int = n) -> None:
                served.append(n)
                lock.release(n)

            lock.acquire(n, 10.0, granted, lambda f: None)
        lock.release("first")
        assert served == list(range(3000))
        return len(served)

    assert asyncio.run(scenario()) == 3000
