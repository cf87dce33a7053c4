"""Store URLs shown to people: the password never leaves the process in a message, a log
line, a repr or a report."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit


def redact(url: str) -> str:
    """The URL with its password replaced by ``***`` (anything else is kept as given)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL we can parse: show no part of its user info at all
        return url.rpartition("@")[2] if "@" in url else url
    if password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


#: ``scheme://user:password@`` anywhere in a text (a message, a traceback, a report).
_USERINFO = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s/:@'\"]*:)[^\s/@'\"]+@", re.I)


def redact_text(text: str) -> str:
    """Every URL password in ``text`` replaced by ``***``."""
    return _USERINFO.sub(r"\g<head>***@", text)
