"""What one run of the procedure showed, kept for `--json`: the Outcome says what was decided
and done; the statuses read and the language's reason are only ever shown to the Agent, so a
`Recorder` standing between the procedure and the Agent keeps them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cancelbot.models import AmazonOrder, BackOfficeOrder


@dataclass
class Seen:
    gstk: BackOfficeOrder | None = None
    amazon: AmazonOrder | None = None
    looked_up: bool = False
    marketplace: str = ""
    language: str = ""
    why: str = ""


class Recorder:
    """An Agent that passes everything to `inner` and remembers what the run showed."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.seen = Seen()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def show_order(self, order_id: str, gstk: BackOfficeOrder | None,
                   amazon: AmazonOrder | None, marketplace: str) -> None:
        self.seen.gstk, self.seen.amazon = gstk, amazon
        self.seen.looked_up, self.seen.marketplace = True, marketplace
        self._inner.show_order(order_id, gstk, amazon, marketplace)

    def show_message(self, text: str, language: str, why: str, channel: str, *,
                     copyable: bool = False) -> None:
        self.seen.language, self.seen.why = language, why
        self._inner.show_message(text, language, why, channel, copyable=copyable)

    def review_message(self, question: str, text: str, language: str, why: str, channel: str,
                       *, copyable: bool = False, languages: Sequence[str] = (),
                       shown: bool = True) -> tuple[str, str]:
        self.seen.language, self.seen.why = language, why
        return self._inner.review_message(question, text, language, why, channel,
                                          copyable=copyable, languages=languages, shown=shown)
