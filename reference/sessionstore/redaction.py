"""Session ids shown to people. An id is a bearer secret: whoever knows it holds the
session. Messages, log lines and reports therefore name a session by a short prefix,
enough to tell sessions apart in a log, never enough to use one."""

from __future__ import annotations

#: Characters of an id shown; a generated id has 32 (192 random bits), so six of them
#: (36 bits) identify a session in a log and leave 156 bits unknown.
SHOWN = 6


def short_id(session_id: str) -> str:
    """The id as messages show it: its first characters and an ellipsis, in quotes.
    Never the whole id: a short one shows at most half of itself."""
    shown = session_id[: min(SHOWN, len(session_id) // 2)]
    return repr(shown + "…")
