"""The one backoff of the project: how long to wait before trying something that failed again.

The guarded call waits in place between its tries (`AIOS_CALL_RETRY_BASE`, `AIOS_CALL_RETRY_MAX_WAIT`);
a run that failed transiently is retried by Celery after a countdown from the same formula; the
launcher restarts a child that died after `backoff_delay(..., jitter=False)` (aios/devstack.py). It
uses only the standard library: the launcher imports it before anything is installed.
"""
from __future__ import annotations

import random


def backoff_delay(attempt: int, retry_after: float | None = None, *, base: float, cap: float,
                  jitter: bool = True) -> float:
    """Seconds before retry number `attempt` (0-based).

    Exponential with jitter: a uniform draw from the upper half of `base · 2^attempt`, never more
    than `cap`, so workers that failed together do not come back together. A server's Retry-After
    wins, up to `cap` (a caller that cannot wait that long hands the work back to the queue instead).
    Without `jitter` (one process restarting its own child) the delay is exactly `base · 2^attempt`.
    """
    if retry_after is not None:
        return min(cap, retry_after)
    ceiling = min(cap, base * 2 ** attempt)
    return random.uniform(ceiling / 2, ceiling) if jitter else ceiling
