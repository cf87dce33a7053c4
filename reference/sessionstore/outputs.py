"""Where ``sessionstore export -o PATH`` writes: the rule is that only a regular file is
ever replaced.

* Nothing at PATH, or a regular file: the document goes to a temp file beside it that
  replaces PATH once whole (:class:`~sessionstore.transfer.AtomicFile`), so a failed
  export leaves the old file as it was.
* A symlink, a FIFO or a character device (``/dev/stdout``, ``/dev/null``): opened and
  written in place, the link followed, as a shell's ``>`` does. Replacing one by a
  regular file would break it (``-o /dev/stdout`` would replace the system's symlink).
* A directory, a block device or a socket: refused.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .transfer import AtomicFile


class OutputRefused(Exception):
    """PATH is something an export must not be written to."""


def _kind(path: Path) -> str | None:
    """What is at ``path`` itself (a link is not followed): None when nothing is."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return "in place"
    return "directory" if stat.S_ISDIR(mode) else "block device or socket"


@contextmanager
def output_file(path: Path) -> Iterator[IO[bytes]]:
    """A binary file to write the export into; on a clean exit it is in place at
    ``path``, on an exception a replaced file is left untouched."""
    kind = _kind(path)
    if kind in (None, "file"):
        target = AtomicFile(path)
        try:
            yield target.file
        except BaseException:
            target.abort()
            raise
        target.commit()
    elif kind == "in place":
        with open(path, "wb") as file:  # follows a link; truncates a file it points at
            yield file
            file.flush()
    else:
        raise OutputRefused(f"{path} is a {kind}, not a file: nothing was written")
