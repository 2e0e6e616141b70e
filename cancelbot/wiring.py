"""Building the three services from the settings: automated where configured, else assisted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx

from cancelbot.config import Settings
from cancelbot.procedure import Agent, Services


def timeout_for(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)


@contextmanager
def open_services(
    settings: Settings, agent: Agent, transport: httpx.BaseTransport | None = None
) -> Iterator[Services]:
    """One client per service for the whole run. In the sandbox, every call goes to the
    embedded simulation through its transport; `transport` overrides it (tests)."""
    from cancelbot.services.amazon import AmazonClient
    from cancelbot.services.assisted import AssistedBackOffice, AssistedMarketplace
    from cancelbot.services.freshdesk import FreshdeskClient
    from cancelbot.services.gstk import GstkClient
    from cancelbot.statuses import StatusTable

    if transport is None and settings.sandbox:
        from cancelbot.sandbox import SandboxTransport

        transport = SandboxTransport(settings.home)
    timeout = timeout_for(settings)
    with ExitStack() as stack:
        helpdesk = stack.enter_context(
            FreshdeskClient(settings.freshdesk, transport=transport, timeout=timeout)
        )
        if settings.gstk.url:
            backoffice = stack.enter_context(GstkClient(
                settings.gstk,
                status_table=StatusTable.from_config(settings.gstk.status_map),
                transport=transport,
                timeout=timeout,
            ))
        else:
            backoffice = AssistedBackOffice(agent, settings.gstk.order_link)
        if settings.amazon.automated:
            marketplace = stack.enter_context(AmazonClient(
                settings.amazon,
                transport=transport,
                timeout=timeout,
                token_cache=None if settings.sandbox else settings.home / "lwa-token.json",
            ))
        else:
            marketplace = AssistedMarketplace(agent)
        yield Services(helpdesk, backoffice, marketplace)
