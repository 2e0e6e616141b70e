"""One module per external system, each speaking its real wire format.

    freshdesk.py   Freshdesk API v2 (the helpdesk)
    gstk.py        GSTK, the back office (docs/gstk-api.md)
    amazon.py      Amazon SP-API: Login with Amazon, Orders 2026-01-01, Feeds, Messaging
    assisted.py    GSTK and Amazon done by hand, guided, when no API is configured
    http.py        what the three clients share: timeouts, retries, rate limits, secrets hidden

The procedure depends only on the protocols in ports.py, which these implement.
"""
