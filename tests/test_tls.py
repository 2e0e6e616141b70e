"""The run's one TLS context (tls.py): loaded ahead on a thread, the same as httpx's default,
and its failures reported where the run reports them."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import certifi
import pytest

from cancelbot import tls
from cancelbot.services.http import shared_ssl_context

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(tls, "_context", None)
    monkeypatch.setattr(tls, "_loading", None)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def test_loaded_ahead_it_is_the_one_context_every_client_shares():
    tls.load_ahead()
    assert tls._loading is not None and tls._loading.name == "cancelbot-tls"
    context = shared_ssl_context()
    assert context is tls.context() is shared_ssl_context()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 50  # certifi's bundle, loaded


def test_without_load_ahead_it_is_built_when_first_needed():
    context = tls.context()
    assert tls._loading is None and context.verify_mode is ssl.CERT_REQUIRED
    assert context.cert_store_stats()["x509_ca"] > 50


def test_ssl_cert_file_is_honoured_as_httpx_does(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text(Path(certifi.where()).read_text(encoding="ascii").split(
        "-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n", encoding="ascii")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    tls.load_ahead()
    assert tls.context().cert_store_stats()["x509_ca"] == 1


def test_a_bundle_that_cannot_load_fails_in_the_run_not_on_the_thread(monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    tls.load_ahead()
    with pytest.raises(OSError):
        tls.context()
    assert tls._context is None


DRIVER = """
import json, sys
order = []

def watch(event, args):
    if event == "import" and args[0] in ("httpx", "rich", "cancelbot.procedure") \\
            and args[0] not in [name for name, _ in order]:
        module = sys.modules.get("cancelbot.tls")
        order.append((args[0], getattr(module, "_loading", None) is not None))

sys.addaudithook(watch)
import httpx
httpx.HTTPTransport.handle_request = lambda self, request: httpx.Response(
    404, json={"code": "not_found"}, request=request)
"""


def test_process_starts_loading_it_before_httpx_loads(tmp_path):
    # The driver imports httpx itself to answer without a network: so it is checked that the
    # load starts before the clients' code (cancelbot.services.http) loads.
    driver = DRIVER.replace('("httpx", ', '("cancelbot.services.http", ') + """
from cancelbot.__main__ import main
sys.argv = ["cancelbot", *sys.argv[1:]]
try:
    main()
finally:
    sys.stdout.write("\\n" + json.dumps(order))
"""
    env = {**os.environ, "FRESHDESK_URL": "https://acme.freshdesk.com",
           "FRESHDESK_API_KEY": "key", "PYTHONPATH": str(ROOT), "CANCELBOT_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", driver, "process", "1001", "--yes"], env=env,
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    order = dict(json.loads(run.stdout.splitlines()[-1]))
    assert run.returncode == 1 and "not found" in run.stderr, run.stderr
    assert order.get("cancelbot.services.http") is True, order


def test_the_sandbox_loads_no_ca_bundle(tmp_path):
    driver = DRIVER + """
from cancelbot.__main__ import main
sys.argv = ["cancelbot", *sys.argv[1:]]
try:
    main()
finally:
    tls = sys.modules.get("cancelbot.tls")
    sys.stdout.write("\\n" + json.dumps(getattr(tls, "_loading", None) is not None))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CANCELBOT_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", driver, "process", "1001", "--sandbox",
                          "--dry-run"], env=env, capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert json.loads(run.stdout.splitlines()[-1]) is False, run.stderr


def test_the_bundle_is_certifis_own_file(monkeypatch):
    opened = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context",
                        lambda **kw: opened.append(kw) or real(**kw))
    tls.context()
    assert opened == [{"cafile": certifi.where()}]
