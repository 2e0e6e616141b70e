"""Building the three services from the settings: automated where configured, else assisted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx

from cancelbot.config import Settings
from cancelbot.ports import Agent, BackOffice, Feeds, Marketplace, Services
from cancelbot.services.http import RatePacer, RetryPolicy

RATE_FILE = "freshdesk-rate.json"  # the account's last Freshdesk rate reading
TOKEN_FILE = "lwa-token.json"  # the LWA access token of the account's SP-API app
SEARCH_PLAN_FILE = "spapi-search-orders.json"  # searchOrders' usage plan (token bucket)


def timeout_for(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)


@contextmanager
def open_services(
    settings: Settings,
    agent: Agent,
    transport: httpx.BaseTransport | None = None,
    retry: RetryPolicy | None = None,
) -> Iterator[Services]:
    """One client per service for the whole run. In the sandbox, every call goes to the
    embedded simulation through its transport; `transport` overrides it (tests). `retry` is
    shared by the three clients (the CLI's shows each wait as a countdown)."""
    from cancelbot.services.amazon import AmazonClient
    from cancelbot.services.assisted import AssistedBackOffice, AssistedMarketplace
    from cancelbot.services.freshdesk import FreshdeskClient
    from cancelbot.services.gstk import GstkClient
    from cancelbot.services.usage_plan import (
        SEARCH_ORDERS_BURST,
        SEARCH_ORDERS_RATE,
        TokenBucket,
    )
    from cancelbot.statuses import StatusTable

    if transport is None and settings.sandbox:
        from cancelbot.sandbox.transport import SandboxTransport

        transport = SandboxTransport(settings.home, latency=settings.sandbox_latency,
                                     feed_seconds=settings.sandbox_feed_seconds)
    timeout = timeout_for(settings)
    # What is kept between runs belongs to this account alone: its world's folder.
    state_dir = None if settings.sandbox else settings.world.prepare()
    # Freshdesk's budget is the account's: the last reading is kept for the next run.
    pacer = RatePacer(
        settings.freshdesk.rate_window,
        state_file=None if state_dir is None else state_dir / RATE_FILE,
    )
    if retry is not None:  # the CLI's countdown shows these waits too
        pacer.sleep = lambda seconds: retry.wait(seconds, "Freshdesk: rate budget nearly spent")
    with ExitStack() as stack:
        helpdesk = stack.enter_context(FreshdeskClient(
            settings.freshdesk, transport=transport, timeout=timeout, retry=retry, pacer=pacer
        ))
        backoffice: BackOffice
        marketplace: Marketplace
        if settings.gstk.url:
            backoffice = stack.enter_context(GstkClient(
                settings.gstk,
                status_table=StatusTable.from_config(settings.gstk.status_map),
                transport=transport,
                timeout=timeout,
                retry=retry,
            ))
        else:
            backoffice = AssistedBackOffice(agent, settings.gstk.order_link)
        feeds: Feeds | None = None
        if settings.amazon.automated:
            marketplace = feeds = stack.enter_context(AmazonClient(
                settings.amazon,
                transport=transport,
                timeout=timeout,
                retry=retry,
                token_cache=None if state_dir is None else state_dir / TOKEN_FILE,
                # searchOrders' budget is the seller account's: shared by every process of
                # this world (the sandbox's is its own, in memory).
                search_plan=TokenBucket(
                    SEARCH_ORDERS_RATE, SEARCH_ORDERS_BURST,
                    state_file=None if state_dir is None else state_dir / SEARCH_PLAN_FILE),
            ))
        else:
            marketplace = AssistedMarketplace(agent)
        yield Services(helpdesk, backoffice, marketplace, feeds)
