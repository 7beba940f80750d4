"""One way to wait for another process or thread: poll a predicate under a bounded deadline."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    predicate: Callable[[], object],
    timeout: float = 20.0,
    what: str = "",
    *,
    every: float = 0.05,
    ignoring: tuple[type[BaseException], ...] = (),
) -> None:
    """Returns once `predicate()` is true (polled every `every` seconds); raises TimeoutError
    naming `what` after `timeout` seconds. Exceptions of the `ignoring` types count as "not
    yet"; any other propagates at once (a predicate raises to give up early, e.g. when the
    process it waits for has exited)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except ignoring:
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(every)
