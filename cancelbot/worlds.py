"""Which world a run acts in, and the folder that world's local state lives in.

A world is the sandbox, or one real account: a Freshdesk domain, a GSTK URL (none when assisted)
and an Amazon seller id (none when assisted). Everything cancelbot keeps between runs — the
journal with its jobs and queued Amazon cancellations, the per-ticket locks, the LWA token cache,
Freshdesk's rate reading; for the sandbox, its simulated services too — lives in that world's
own folder, `<CANCELBOT_HOME>/worlds/<id>/`, so nothing recorded in one world can skip, redo or
edit anything in another. `world.json` in each folder says, for people, which world it is
(domain, URL, seller id: never a secret).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

from msgspec import Struct

from cancelbot import private
from cancelbot.errors import StateError
from cancelbot.i18n import _

FOLDER = "worlds"
DESCRIPTION = "world.json"
SANDBOX = "sandbox"


class World(Struct, frozen=True):
    id: str  # "sandbox", or "acct-" and 12 hex digits of the account's fingerprint
    home: Path
    freshdesk: str = ""  # the account's Freshdesk host
    gstk: str = ""  # GSTK's API URL, "" when assisted
    seller_id: str = ""  # "" when Amazon is assisted

    @property
    def sandbox(self) -> bool:
        return self.id == SANDBOX

    @property
    def state_dir(self) -> Path:
        return Path(self.home) / FOLDER / self.id

    @property
    def label(self) -> str:
        if self.sandbox:
            return "the sandbox"
        return " · ".join([
            self.freshdesk,
            f"GSTK {self.gstk}" if self.gstk else "GSTK assisted",
            f"seller {self.seller_id}" if self.seller_id else "Amazon assisted",
        ])

    def description(self) -> dict[str, str]:
        return {"world": self.id, "kind": "sandbox" if self.sandbox else "account",
                "freshdesk": self.freshdesk, "gstk": self.gstk, "seller_id": self.seller_id}

    def prepare(self) -> Path:
        """The world's folder, checked and created owner-only: every state file goes in it."""
        private.home_folder(self.home)
        private.private_folder(Path(self.home) / FOLDER)
        folder = private.private_folder(self.state_dir)
        label = folder / DESCRIPTION
        try:
            if not label.is_symlink() and not label.exists():
                text = json.dumps(self.description(), indent=1) + "\n"
                private.write_file(label, text.encode("utf-8"))
        except OSError as exc:
            raise StateError(_("cannot write in {path}: {reason}").format(
                path=folder, reason=private.reason(exc))) from exc
        return folder


def sandbox_world(home: Path) -> World:
    return World(SANDBOX, Path(home))


def account_world(home: Path, freshdesk_url: str, gstk_url: str, seller_id: str) -> World:
    """The world of one real account, named by a fingerprint of what identifies it."""
    freshdesk = _host(urlsplit(freshdesk_url.strip()))
    gstk = _normal_url(gstk_url)
    seller = seller_id.strip().upper()
    fingerprint = hashlib.sha256(f"{freshdesk}|{gstk}|{seller}".encode()).hexdigest()
    return World(f"acct-{fingerprint[:12]}", Path(home), freshdesk, gstk, seller)


def _normal_url(url: str) -> str:
    """Scheme and host in lower case, no default port, no trailing slash: one URL, one name."""
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{_host(parts)}{parts.path.rstrip('/')}"


def _host(parts) -> str:
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    try:
        port = parts.port
    except ValueError:  # not a number: the URL as written still names one place
        return parts.netloc.lower()
    return (parts.hostname or "") + (f":{port}" if port and port != default else "")
