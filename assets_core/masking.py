"""Secrets out of everything lakeplan shows or records: one rule for URLs, settings and free text.

A URL may carry a secret in its userinfo (``postgresql://u:PW@h/db``) or in its query
(``?password=PW``, ``sslpassword=``, ``secret=``, ``token=``, ``access_key=``); a settings table in a
key named like a secret. Every error, log line, run record and view passes through these functions, so
a new place that shows a URL cannot forget one of the forms.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import unquote

MASK = "***"
SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token", "key", "credential", "auth", "signature")

# scheme://rest-of-url up to whitespace: a password may hold quotes or '<', so the URL does not end there;
# punctuation that closes the quoting around it ("'...':") is split off again by mask_text.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_CLOSING = "'\",.;:)]>"
# user:password@ up to the last '@': an unencoded '@', '/' or '?' in a password then cannot leave part of it
# visible (an '@' later in the URL only widens what is hidden).
_USERINFO = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*):.*@", re.DOTALL)


def is_secret_name(name: str) -> bool:
    """True for a setting, query parameter or variable named like a secret (``sslpassword``, ``api_token``)."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def _mask_query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        name, equals, value = part.partition("=")
        parts.append(f"{name}={MASK}" if equals and value and is_secret_name(unquote(name)) else part)
    return "&".join(parts)


def mask_url(url: str) -> str:
    """``url`` with the password of its userinfo and the value of each secret-named query parameter
    replaced by ``***``; the rest is kept as written, so the URL stays recognisable."""
    url = _USERINFO.sub(rf"\g<head>:{MASK}@", url, count=1)
    path, question, query = url.partition("?")
    # No fragment split: SQLAlchemy reads all after '?' as the query, so a '#' may be part of a password.
    return f"{path}?{_mask_query(query)}" if question else url


def mask_text(text: str) -> str:
    """``text`` with every URL in it masked (error messages and tracebacks that quote a URL)."""

    def masked(match: re.Match[str]) -> str:
        url = match.group(0).rstrip(_CLOSING)
        return mask_url(url) + match.group(0)[len(url) :]

    return _URL_IN_TEXT.sub(masked, text)


def mask_settings(table: Mapping[str, Any]) -> dict[str, Any]:
    """A settings table fit to record: secret-named keys masked, URLs in string values masked, nested
    tables likewise."""
    masked: dict[str, Any] = {}
    for key, value in table.items():
        if is_secret_name(key):
            masked[key] = MASK
        elif isinstance(value, Mapping):
            masked[key] = mask_settings(value)
        elif isinstance(value, str):
            masked[key] = mask_text(value)
        else:
            masked[key] = value
    return masked


def mask_data(data: Any, secrets: Collection[str]) -> Any:
    """JSON-like ``data`` fit to show: in every string (keys too) each URL masked and each of ``secrets``
    (values known to be secret, e.g. resources' secrets read from the environment) replaced by ``***``."""
    known = sorted((s for s in secrets if s), key=len, reverse=True)

    def text(value: str) -> str:
        value = mask_text(value)
        for secret in known:
            value = value.replace(secret, MASK)
        return value

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return text(value)
        if isinstance(value, Mapping):
            return {text(str(k)): walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return value

    return walk(data)
