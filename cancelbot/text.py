"""Text from outside made safe: Freshdesk's HTML as plain text, plain text as safe HTML, and
any text from a ticket or a server made harmless for a terminal before a screen shows it.

Everything here takes time in proportion to its input, whatever the input: a ticket body is
written by a stranger.
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from urllib.parse import quote, quote_plus

_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title"})
_SURROGATES = re.compile("[\ud800-\udfff]")

# What a terminal would obey rather than show. C0 controls (but newline and tab), DEL and ESC
# become their Unicode "control pictures" (ESC → ␛); C1 controls (0x80-0x9f: 0x9b is a
# one-byte CSI) become "\x9b"; bidi overrides, embeddings, isolates and marks are removed, so
# a name cannot make the text after it read backwards; a lone surrogate (JSON allows them)
# would make the terminal's encoder fail, and becomes U+FFFD.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_VISIBLE: dict[int, str | None] = {
    **{code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A)},
    0x7F: "\u2421",
    **{code: f"\\x{code:02x}" for code in range(0x80, 0xA0)},
    **{ord(c): None for c in _BIDI},
    0x2028: "\n",  # line and paragraph separators: plain newlines
    0x2029: "\n",
}
# The same set, to find cheaply whether there is anything to do (translate is slow per char).
_UNSAFE = re.compile("[\r\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff"
                     + _BIDI + "]")
DEFAULT_EXCERPT = 2000  # characters of a ticket body a screen shows


def visible(text: str) -> str:
    """`text` with nothing a terminal would act on: controls shown (ESC as ␛), bidi
    overrides removed, line ends made "\\n". Newlines and tabs stay."""
    if not text or not _UNSAFE.search(text):
        return text
    text = _SURROGATES.sub("\ufffd", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # One C-speed replace per kind of character present, found by resuming the search where
    # the last kind was first seen, rather than str.translate (a dictionary look-up for every
    # character: a second for ten million). Past a few kinds, translate is the faster.
    position, kinds = 0, 0
    while (found := _UNSAFE.search(text, position)) is not None:
        kinds += 1
        if kinds > 8:
            return text.translate(_VISIBLE)
        text = text.replace(found.group(), _VISIBLE[ord(found.group())] or "")
        position = found.start()
    return text


def has_controls(text: str) -> bool:
    """True when `visible` would change `text`: what an identifier from a server must not hold."""
    return bool(_UNSAFE.search(text))


def one_line(text: str, limit: int = 500) -> str:
    """`text` made visible, on one line, at most `limit` characters (an error message)."""
    text = " ".join(visible(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def excerpt(text: str, limit: int = DEFAULT_EXCERPT) -> str:
    """At most `limit` characters of `text` for a screen, saying how much was left out.

    A ticket keeps its whole text (the order number may be at the end); only what is drawn
    is bounded, so a 10 MB body costs a screen no more than a short one.
    """
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", limit * 4 // 5, limit)  # end on a word when one ends nearby
    cut = cut if cut > 0 else limit
    return f"{text[:cut].rstrip()} … ({len(text) - cut:,} more characters)"


# The visible text, written by libxslt from the tree libxml2 built: the whole walk runs in C,
# so a body of millions of tags costs no Python call per tag. A block starts and ends a line,
# <br> ends one, and nothing inside script, style, head or title is shown.
_TEXT_XSLT = b"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:output method="text" encoding="utf-8"/>
<xsl:template match="script|style|head|title"/>
<xsl:template match="br"><xsl:text>&#10;</xsl:text></xsl:template>
<xsl:template match="p|div|li|tr|h1|h2|h3|h4|h5|h6|blockquote">
<xsl:text>&#10;</xsl:text><xsl:apply-templates/><xsl:text>&#10;</xsl:text></xsl:template>
</xsl:stylesheet>"""
_xslt = threading.local()  # one compiled stylesheet per thread (prefetch reads in threads)
# Building libxml2's tree costs a fraction of a microsecond per node, and a body of ten
# million characters can be millions of nodes. No mail is that long: the first
# `FULL_READING` characters (far more than any screen shows) are read as a browser would,
# the rest roughly (below), in a few C-speed passes, so that the order-number search still
# covers the whole text and a 10 MB body costs a fraction of a second whatever it holds.
FULL_READING = 1_000_000
# The rough reading: block tags end a line, every other tag, comment or declaration goes
# (each pattern is linear: a tag ends at the next "<" or ">"); what is left is text with
# entities, which libxml2 decodes in one text node. The same substitutions flatten a body
# nested deeper than the 2048 elements libxml2's tree allows (it stops reading there).
_BLOCK_TAG = re.compile(r"</?(?:p|div|br|li|tr|h[1-6]|blockquote)(?=[\s/>])[^<>]*>?",
                        re.IGNORECASE)
_OTHER_TAG = re.compile(r"</?(?!(?:script|style|head|title|br)[\s/>])[a-z][^<>]*>?",
                        re.IGNORECASE)
_ANY_TAG = re.compile(r"<[a-zA-Z/!?][^<>]*>?")


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment; scripts and styles dropped, entities decoded.

    libxml2 (through lxml) reads it as a browser would, in one pass, and libxslt writes its
    text, both in C: no construct, however broken, repeated or nested, makes it slow or makes
    it fail. Past its first FULL_READING characters a body is read roughly (tags dropped,
    entities decoded), so the time stays small for any body.
    """
    if not markup or not markup.strip():
        return ""
    try:
        markup.encode("utf-8")  # C speed; a regular expression takes ten times as long
    except UnicodeEncodeError:  # a lone surrogate from JSON
        markup = _SURROGATES.sub("\ufffd", markup)
    rest = ""
    if len(markup) > FULL_READING:
        cut = markup.rfind("<", FULL_READING // 2, FULL_READING)  # before a tag, if one is near
        cut = cut if cut > 0 else FULL_READING
        markup, rest = markup[:cut], markup[cut:]
    text = _read_html(markup.encode("utf-8"))
    if text is None:  # nested too deep for libxml2's tree: read again without the nesting
        text = _read_html(_OTHER_TAG.sub("", _BLOCK_TAG.sub("<br>", markup)).encode("utf-8"))
    if text is None:
        # Should libxml2 ever give up all the same, the text with its tags is still better
        # than nothing (the order number may be in it).
        text = markup
    if rest:
        text += "\n" + _rough_text(rest)
    return _tidy(text)


def _rough_text(markup: str) -> str:
    """Text of HTML without a parse: every tag, comment or declaration as a space (as the
    order-number search reads them), entities decoded by libxml2 (a document of text alone:
    no tag is left for it to build). Linear and C-speed; scripts' text is kept."""
    plain = _ANY_TAG.sub(" ", markup)
    if "&" not in plain:
        return plain.replace("\x00", "\ufffd")
    text = _read_html(plain.encode("utf-8"))
    return plain if text is None else text


def _read_html(data: bytes) -> str | None:
    """The text of an HTML document; None when libxml2 stopped before its end."""
    from lxml import etree  # here, not at import: most commands never read a ticket

    parser = etree.HTMLParser(
        encoding="utf-8", recover=True, no_network=True, remove_comments=True,
        remove_pis=True, huge_tree=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.LxmlError:
        return None
    if any(error.level_name == "FATAL" for error in parser.error_log):
        return None  # e.g. "Excessive depth in document": what follows was not read
    if root is None:  # nothing but comments or processing instructions
        return ""
    transform = getattr(_xslt, "transform", None)
    if transform is None:
        transform = _xslt.transform = etree.XSLT(etree.XML(_TEXT_XSLT))
    result = transform(root)
    return str(result) if result is not None else None


def _tidy(text: str) -> str:
    """Runs of blanks as one space, no space at a line's ends, at most one empty line.

    Whole-text `str.replace` passes (C speed, a few passes even for a run of a million
    blanks) rather than a regular expression or a loop over lines: a body may be ten million
    characters or millions of lines.
    """
    for blank in "\t\r\f\v":  # str.replace, not translate: C speed on any text
        if blank in text:
            text = text.replace(blank, " ")
    while "  " in text:
        text = text.replace("    ", " ").replace("  ", " ")
    text = text.replace(" \n", "\n").replace("\n ", "\n")
    while "\n\n\n" in text:
        text = text.replace("\n\n\n\n", "\n\n").replace("\n\n\n", "\n\n")
    return text.strip()


# -- Secrets ---------------------------------------------------------------------------------
#
# A server may echo a credential back in an error: the API key, the "Authorization: Basic
# base64(key:X)" header, the LWA form (percent-encoded), the access token. Every secret the
# clients hold is registered here, in every form it may come back in, and `hide_secrets` blanks
# them all: ServiceError applies it to its message, so the screen, --json, the journal and the
# notes (which all take that message) never carry one; the CLI applies it again to every line.

MIN_SECRET_LENGTH = 8  # shorter values would blank innocent text; real secrets are longer
_secret_lock = threading.Lock()
_secret_forms: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None


def secret_forms(secret: str) -> set[str]:
    """`secret` as a server may echo it: raw, percent-encoded (upper or lower case hex, "+" or
    "%20" for spaces), HTML- and JSON-escaped, and base64 (standard or URL-safe) at any of the
    three alignments it can have inside a longer base64 text such as a Basic header."""
    forms = {secret, html.escape(secret), json.dumps(secret)[1:-1]}
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        forms.add(encoded)
        forms.add(re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), encoded))
    raw = secret.encode("utf-8")
    for offset in range(3):
        # The base64 characters that depend on the secret's bytes alone, whatever is around.
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        core = encoded[(offset * 4 + 2) // 3:(offset + len(raw)) * 8 // 6]
        forms.add(core)
        forms.add(core.replace("+", "-").replace("/", "_"))
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def keep_secret(secret: str | None) -> None:
    """Register `secret`: from now on `hide_secrets` blanks it, in all its forms."""
    global _secret_pattern
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return
    with _secret_lock:
        forms = secret_forms(secret) - _secret_forms
        if not forms:
            return
        _secret_forms.update(forms)
        _secret_pattern = None  # compiled again at its next use: a run registers several


def hide_secrets(text: str) -> str:
    """`text` with every registered secret, in any of its forms, replaced by "***"."""
    global _secret_pattern
    if not text or not _secret_forms:
        return text
    pattern = _secret_pattern
    if pattern is None:
        with _secret_lock:
            if _secret_pattern is None:
                alternatives = sorted(_secret_forms, key=len, reverse=True)  # longest first
                _secret_pattern = re.compile("|".join(map(re.escape, alternatives)),
                                             re.IGNORECASE)
            pattern = _secret_pattern
    return pattern.sub("***", text)


def text_to_html(text: str) -> str:
    """Plain text as HTML paragraphs, every character escaped (what Freshdesk receives)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
