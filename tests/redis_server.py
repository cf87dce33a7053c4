"""A throwaway ``redis-server`` for tests and benchmarks: a free loopback port, no
persistence (``--save "" --appendonly no``), a private working directory, stopped at
the end. ``python tests/redis_server.py -- COMMAND...`` runs COMMAND with
``REDIS_URL`` set to such a server, and ``{REDIS_URL}`` in its arguments replaced by
the server's URL (nox's ``conformance(backend='redis')`` runs the kit this way).

When redis-server is missing: tests skip, except on CI (``CI`` set), where they fail —
CI installs the Debian package ``redis-server`` (.ci/run), so a missing server there
is a broken setup, never a reason to skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SERVER = os.environ.get("REDIS_SERVER", "redis-server")


def server_binary() -> str | None:
    return shutil.which(SERVER) or (SERVER if os.path.isfile(SERVER) else None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _PortTaken(Exception):
    """The port was free when chosen, and taken before redis-server could bind it."""


class RedisServer:
    """One redis-server process; ``stop()`` and ``start()`` again keep its port."""

    def __init__(self, *extra: str, port: int | None = None) -> None:
        binary = server_binary()
        if binary is None:
            raise FileNotFoundError(f"{SERVER} not found (Debian package redis-server)")
        self.binary = binary
        self.chosen_port = port is not None
        self.port = port or _free_port()
        self.extra = extra
        self.dir = tempfile.mkdtemp(prefix="sessionstore-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server and wait until it accepts connections. A port taken meanwhile
        by another process (two test runs side by side) means another free port, unless
        the port was chosen by the caller."""
        for _ in range(5):
            try:
                started = self._start()
                self.chosen_port = True  # ours now: a restart keeps it
                return started
            except _PortTaken:
                if self.chosen_port:
                    raise
                self.port = _free_port()
        return self._start()

    def _start(self) -> RedisServer:
        log = Path(self.dir) / "redis.log"
        log.unlink(missing_ok=True)
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.dir,
            "--logfile", str(log),
            *self.extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                err += log.read_text(errors="replace") if log.exists() else ""
                if "Address already in use" in err:
                    raise _PortTaken(self.port)
                raise RuntimeError(
                    f"redis-server exited at start ({self.process.returncode}): {err}"
                )
            # Our own log says when *this* server listens: a server of another run that
            # took the port meanwhile would answer a PING too.
            if "Ready to accept connections" not in (
                log.read_text(errors="replace") if log.exists() else ""
            ):
                time.sleep(0.02)
                continue
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn,
            ):
                conn.sendall(b"PING\r\n")
                reply = conn.recv(64)
                if reply.startswith((b"+PONG", b"-NOAUTH")):
                    return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within 10 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def running(*extra: str) -> Iterator[RedisServer]:
    server = RedisServer(*extra).start()
    try:
        yield server
    finally:
        server.close()


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print(__doc__)
        return 2
    given = os.environ.get("SESSION_STORE_URL") or os.environ.get("REDIS_URL")
    if given and given.startswith(("redis://", "rediss://")):
        return _call(command, given)
    if server_binary() is None:
        print(
            f"error: {SERVER} not found; install the Debian package redis-server", file=sys.stderr
        )
        return 1
    with running() as server:
        print(f"redis-server {server.process and server.process.pid} on {server.url}", flush=True)
        return _call(command, server.url)


def _call(command: list[str], url: str) -> int:
    args = [arg.replace("{REDIS_URL}", url) for arg in command]
    return subprocess.call(args, env={**os.environ, "REDIS_URL": url})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
