"""Building the three services from the settings: automated where configured, else assisted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

import httpx

from cancelbot.config import Settings
from cancelbot.services.http import RatePacer, RetryPolicy

if TYPE_CHECKING:  # the ports load with the other services: not before a run's first request
    from cancelbot.ports import Agent, BackOffice, Feeds, Marketplace, Services
    from cancelbot.services.amazon import AmazonClient
    from cancelbot.services.freshdesk import FreshdeskClient
    from cancelbot.services.gstk import GstkClient

RATE_FILE = "freshdesk-rate.json"  # the account's last Freshdesk rate reading
TOKEN_FILE = "lwa-token.json"  # the LWA access token of the account's SP-API app
SEARCH_PLAN_FILE = "spapi-search-orders.json"  # searchOrders' usage plan (token bucket)


def timeout_for(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)


def open_freshdesk(
    settings: Settings,
    transport: httpx.BaseTransport | None = None,
    retry: RetryPolicy | None = None,
) -> FreshdeskClient:
    """The run's Freshdesk client, paced to the account's rate budget: the last reading is
    kept in the world's folder for the next run (the sandbox's is its own, in memory)."""
    from cancelbot.services.freshdesk import FreshdeskClient

    state_dir = None if settings.sandbox else settings.world.prepare()
    pacer = RatePacer(
        settings.freshdesk.rate_window,
        state_file=None if state_dir is None else state_dir / RATE_FILE,
    )
    client = FreshdeskClient(settings.freshdesk, transport=transport,
                             timeout=timeout_for(settings), retry=retry, pacer=pacer)
    if retry is not None:  # the CLI's countdown shows the pacer's waits too
        client.use_retry(retry)
    return client


def open_gstk(settings: Settings, transport: httpx.BaseTransport | None = None,
              retry: RetryPolicy | None = None) -> GstkClient:
    """GSTK's client (settings.gstk.url is set)."""
    from cancelbot.services.gstk import GstkClient
    from cancelbot.statuses import StatusTable

    return GstkClient(settings.gstk, status_table=StatusTable.from_config(settings.gstk.status_map),
                      transport=transport, timeout=timeout_for(settings), retry=retry)


def open_amazon(settings: Settings, transport: httpx.BaseTransport | None = None,
                retry: RetryPolicy | None = None) -> AmazonClient:
    """SP-API's client (settings.amazon.automated): its LWA token and searchOrders' budget are
    kept in the world's folder, shared by every process of this account (the sandbox's are its
    own, in memory)."""
    from cancelbot.services.amazon import AmazonClient
    from cancelbot.services.usage_plan import (
        SEARCH_ORDERS_BURST,
        SEARCH_ORDERS_RATE,
        TokenBucket,
    )

    state_dir = None if settings.sandbox else settings.world.prepare()
    return AmazonClient(
        settings.amazon,
        transport=transport,
        timeout=timeout_for(settings),
        retry=retry,
        token_cache=None if state_dir is None else state_dir / TOKEN_FILE,
        search_plan=TokenBucket(
            SEARCH_ORDERS_RATE, SEARCH_ORDERS_BURST,
            state_file=None if state_dir is None else state_dir / SEARCH_PLAN_FILE),
    )


@contextmanager
def open_services(
    settings: Settings,
    agent: Agent,
    transport: httpx.BaseTransport | None = None,
    retry: RetryPolicy | None = None,
    helpdesk: FreshdeskClient | None = None,
    lookup_clients: tuple[GstkClient, AmazonClient] | None = None,
) -> Iterator[Services]:
    """One client per service for the whole run. In the sandbox, every call goes to the
    embedded simulation through its transport; `transport` overrides it (tests). `retry` is
    shared by the three clients (the CLI's shows each wait as a countdown). `helpdesk`: the
    Freshdesk client the command opened as it started (early.py), taken over from here on:
    it waits and retries by `retry`, and is closed with the others. `lookup_clients`: the GSTK
    and SP-API clients of the run's head start (headstart.py), taken over the same way but
    closed by it."""
    from cancelbot.ports import Services
    from cancelbot.services.assisted import AssistedBackOffice, AssistedMarketplace

    if transport is None and settings.sandbox:
        from cancelbot.sandbox.transport import SandboxTransport

        transport = SandboxTransport(settings.home, latency=settings.sandbox_latency,
                                     feed_seconds=settings.sandbox_feed_seconds)
    with ExitStack() as stack:
        if helpdesk is None:
            helpdesk = open_freshdesk(settings, transport, retry)
        elif retry is not None:
            helpdesk.use_retry(retry)
        stack.enter_context(helpdesk)
        backoffice: BackOffice
        marketplace: Marketplace
        feeds: Feeds | None = None
        if lookup_clients is not None:
            gstk, amazon = lookup_clients
            if retry is not None:
                gstk.use_retry(retry)
                amazon.use_retry(retry)
            backoffice = gstk
            marketplace = feeds = amazon
        else:
            if settings.gstk.url:
                backoffice = stack.enter_context(open_gstk(settings, transport, retry))
            else:
                backoffice = AssistedBackOffice(agent, settings.gstk.order_link)
            if settings.amazon.automated:
                marketplace = feeds = stack.enter_context(open_amazon(settings, transport,
                                                                      retry))
            else:
                marketplace = AssistedMarketplace(agent)
        yield Services(helpdesk, backoffice, marketplace, feeds)
