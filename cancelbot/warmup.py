"""Loading, on another thread, what a command's first request will need.

A `process` run spends its first tenths of a second importing and setting up before it can send
anything. Two of those steps need nothing from the command line: the HTTP stack, and the TLS
context with its certificate bundle, whose loading runs without holding the GIL. Started first,
they overlap with the rest of the start-up instead of following it.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("cancelbot.warmup")


def start() -> threading.Thread:
    thread = threading.Thread(target=_load, name="cancelbot-warm-up", daemon=True)
    thread.start()
    return thread


def _load() -> None:
    try:
        import httpcore  # noqa: F401 - httpx's transport, imported on the first client

        from cancelbot.services.http import shared_ssl_context

        shared_ssl_context()
    except Exception as exc:  # only a head start: the run redoes any of it, and reports it
        log.debug("warm-up skipped (%s)", type(exc).__name__)
