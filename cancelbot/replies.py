"""The reply to a buyer on its way out: its language, its text, and the agent's last look at it.

    language   --lang, else the buyer's own locale on Amazon (Messaging getAttributes), else the
               marketplace's language — with `why`, shown above the message
    text       the template of that language, rendered strictly (messages.py)
    review     at the question that sends it: yes (send) / edit in $EDITOR / another language /
               no (cancel), as often as the agent likes; the message is shown again after each
               change, so what is sent is what was last seen

Like the procedure, this never prints: it talks to the `Agent`. The procedure sends
`draft.text` and its note records it when the agent edited it.
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from cancelbot import messages
from cancelbot.errors import CancelbotError
from cancelbot.lookup import LocaleAnswer, buyer_locale

if TYPE_CHECKING:
    from cancelbot.ports import Agent, Marketplace

SEND, EDIT, LANGUAGE, CANCEL = "send", "edit", "language", "cancel"


class Draft:
    """One reply being prepared. `text`, `code` and `why` follow the agent's review."""

    def __init__(
        self,
        agent: Agent,
        *,
        folder: Path,
        code: str,
        why: str,
        channel: str,
        copy_to: str,
        order_id: str,
        agent_name: str = "",
    ) -> None:
        self.agent = agent
        self.folder = folder
        self.languages = messages.available_languages(folder)
        self.channel = channel
        self.copy_to = copy_to
        self.order_id = order_id
        self.agent_name = agent_name
        self.code, self.why = code, why
        self.text = self._rendered = self._render(code)

    @classmethod
    def prepare(
        cls,
        agent: Agent,
        marketplace: Marketplace,
        *,
        order_id: str,
        marketplace_id: str,
        channel: str,
        copy_to: str,
        templates: Path | None = None,
        language: str | None = None,
        agent_name: str = "",
        known_locale: LocaleAnswer | Future[LocaleAnswer] | None = None,
    ) -> Draft:
        """Choose the language, render the template, show the message. `known_locale`, when
        the caller already asked Amazon (`buyer_locale()`; perhaps still answering), saves
        asking again."""
        folder = messages.templates_dir(templates)
        if language:
            locale, note = None, ""  # chosen: the buyer's locale, even still coming, not needed
        else:
            answer = known_locale
            if isinstance(answer, Future):
                try:
                    answer = answer.result()
                except CancelbotError:
                    answer = None  # asked again just below, where the agent sees what happens
            locale, note = answer if answer is not None else buyer_locale(
                marketplace, order_id, marketplace_id)
        available = tuple(messages.available_languages(folder)) or messages.LANGUAGES
        choice = messages.choose_language(language, marketplace_id, locale, available)
        draft = cls(agent, folder=folder, code=choice.code, why=choice.why + note,
                    channel=channel, copy_to=copy_to, order_id=order_id,
                    agent_name=agent_name)
        draft.show()
        return draft

    @property
    def edited(self) -> bool:
        return self.text != self._rendered

    def show(self) -> None:
        self.agent.show_message(self.text, self.code, self.why, self.channel,
                                copy_to=self.copy_to)

    def confirm(self, question: str, *, automatic: bool = True) -> bool:
        """Ask `question` with the review choices; True to send this text (`self.text`).

        With --yes, or an Agent that has no review step, it is the Agent's plain confirm
        (`automatic=False`: only a person may answer, --yes stops with NeedsHuman).
        """
        if not self.agent.interactive:
            return self.agent.confirm(question, automatic=automatic)
        review = self.agent.review_message
        shown = True  # prepare() showed it
        while True:
            action, value = review(question, self.text, self.code, self.why, self.channel,
                                   copy_to=self.copy_to, languages=self.languages,
                                   shown=shown)
            shown = False
            if action == SEND:
                return True
            if action == CANCEL:
                return False
            if action == EDIT:
                if value.strip():
                    self.text = value.strip("\n")
                else:
                    self.agent.warn("The edited message is empty: keeping the previous text.")
            elif action == LANGUAGE:
                self.code, self.why = value, "you chose it at the preview"
                self.text = self._rendered = self._render(value)
            else:  # an Agent's bug, not something a person can type
                raise ValueError(f"unknown review action {action!r}")

    def _render(self, code: str) -> str:
        return messages.render_reply(self.folder, code, order_id=self.order_id, buyer_name="",
                                     agent_name=self.agent_name)

