"""GSTK's raw status labels → the procedure's statuses, through a table a team can extend.

The default accepts the seed's French labels (any case, with or without accents) and the
procedure's own codes. `GSTK_STATUS_MAP` adds or overrides entries: `label=code;label=code`.
"""

from __future__ import annotations

import re
import unicodedata

from cancelbot.errors import ConfigError
from cancelbot.models import OrderStatus

DEFAULT_LABELS: dict[str, OrderStatus] = {
    "en attente de préparation": OrderStatus.AWAITING_PREPARATION,
    "en cours de préparation": OrderStatus.IN_PREPARATION,
    "préparée": OrderStatus.PREPARED,
    "expédiée": OrderStatus.SHIPPED,
    "annulée": OrderStatus.CANCELLED,
    **{s.value: s for s in OrderStatus},
}


def normalize_label(label: str) -> str:
    """Lower case, accents removed, runs of spaces/underscores/hyphens folded to one space."""
    decomposed = unicodedata.normalize("NFKD", label)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\s_\-]+", " ", bare).strip().casefold()


class StatusTable:
    def __init__(self, labels: dict[str, OrderStatus] | None = None) -> None:
        self._table = {normalize_label(k): v for k, v in (labels or DEFAULT_LABELS).items()}

    @classmethod
    def from_config(cls, spec: str | None) -> StatusTable:
        """The default table plus `label=code;label=code` entries from configuration."""
        labels = dict(DEFAULT_LABELS)
        for entry in filter(None, (e.strip() for e in (spec or "").split(";"))):
            label, sep, code = entry.rpartition("=")
            try:
                status = OrderStatus(code.strip())
            except ValueError:
                status = None
            if not sep or not label.strip() or status is None:
                codes = ", ".join(s.value for s in OrderStatus)
                raise ConfigError(
                    f"GSTK_STATUS_MAP entry {entry!r} must be label=code with code one of {codes}"
                )
            labels[label.strip()] = status
        return cls(labels)

    def lookup(self, label: str) -> OrderStatus | None:
        return self._table.get(normalize_label(label))
