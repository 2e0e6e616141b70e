"""The run's one verifying TLS context, loaded beside the program instead of before it.

Loading the CA bundle (certifi's, ~150 certificates) takes 30–50 ms of OpenSSL work that
releases the GIL. `process` calls `load_ahead()` before it imports httpx and the clients: the
bundle loads on a thread while they load, and the first client finds the context ready
(issue 12 §6). The context is the one httpx builds by default — `SSL_CERT_FILE`, else
`SSL_CERT_DIR`, else certifi's bundle — and every client of the run shares it.
"""

from __future__ import annotations

import os
import ssl
import threading

_lock = threading.Lock()
_context: ssl.SSLContext | None = None
_loading: threading.Thread | None = None


def _build() -> ssl.SSLContext:
    """What `httpx.create_ssl_context()` builds (verify=True, trust_env=True)."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    # certifi.where() reaches the file through importlib.resources (12 ms, and zipfile), which
    # only a zipped install needs: an installed package has it beside its __init__.py.
    bundle = os.path.join(os.path.dirname(certifi.__file__), "cacert.pem")
    return ssl.create_default_context(cafile=bundle if os.path.isfile(bundle)
                                      else certifi.where())


def _load() -> None:
    global _context
    try:
        built = _build()
    except (OSError, ssl.SSLError, ValueError):
        return  # context() builds it again where the run can report the failure
    with _lock:
        if _context is None:
            _context = built


def load_ahead() -> None:
    """Start loading the context on a thread (once): nothing to wait for here. Not a daemon:
    a run that stops at once (a bad configuration) lets it end, ~50 ms, rather than cut it."""
    global _loading
    with _lock:
        if _context is not None or _loading is not None:
            return
        _loading = threading.Thread(target=_load, name="cancelbot-tls")
        _loading.start()


def context() -> ssl.SSLContext:
    """The context, waiting for the load started ahead or building it now."""
    global _context
    loading = _loading
    if loading is not None:
        loading.join()
    with _lock:
        if _context is None:
            _context = _build()
        return _context
