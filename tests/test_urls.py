"""A store URL's password never reaches a message or a report (sessionstore.urls)."""

from __future__ import annotations

from typing import Any

import pytest

from sessionstore.backends.memory import MemoryStore
from sessionstore.urls import redact, redact_text
from sessionstore_conformance.checks.registry import Check, Ctx
from sessionstore_conformance.clock import FakeClock
from sessionstore_conformance.errors import ClauseViolation
from sessionstore_conformance.runner import run


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://ada:s3cret@host/0?namespace=a", "redis://ada:***@host/0?namespace=a"),
        ("redis://ada@host/0", "redis://ada@host/0"),
        ("sqlite:///tmp/x.db", "sqlite:///tmp/x.db"),
        ("memory://", "memory://"),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_redact_text_finds_every_password() -> None:
    text = "open_store('redis://ada:pw1@h:1/0') failed; then rediss://:pw2@other/3 too"
    scrubbed = redact_text(text)
    assert "pw1" not in scrubbed and "pw2" not in scrubbed
    assert "redis://ada:***@h:1/0" in scrubbed and "rediss://:***@other/3" in scrubbed


async def _quotes_a_url(ctx: Ctx) -> None:
    raise ClauseViolation(("CAP-2",), "could not open store.url 'redis://ada:hunter2@db:6379/0'")


def test_report_never_shows_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    check = Check("quotes_a_url", ("CAP-2",), _quotes_a_url, (), True, "")
    monkeypatch.setattr("sessionstore_conformance.runner.REGISTRY", [check])

    def factory(*, clock: FakeClock) -> Any:
        return MemoryStore(clock=clock)

    report = run(factory, profile="ci")
    (result,) = report.checks
    assert result.status == "failed"
    assert "hunter2" not in result.message and "redis://ada:***@db:6379/0" in result.message
