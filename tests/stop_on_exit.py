"""Background servers the tests start (pretix runserver, a live Airflow) must not outlive the run:
a `finally` is not reached when pytest is killed by SIGTERM (make interrupted, a CI timeout)."""

from __future__ import annotations

import atexit
import contextlib
import signal
from collections.abc import Callable


def stop_on_exit(stop: Callable[[], None], what: str) -> None:
    """Call `stop` at interpreter exit and on SIGTERM; a SIGTERM then interrupts the run as Ctrl-C
    does, so pytest still runs every finaliser. `stop` must be safe to call twice."""
    atexit.register(stop)
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: object) -> None:
        stop()
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt(f"signal {signum}: {what} stopped")

    with contextlib.suppress(ValueError):  # not the main thread: atexit and finally still apply
        signal.signal(signal.SIGTERM, handler)
