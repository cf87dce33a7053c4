"""Export and import: snapshots, validation, all-or-nothing, conflicts (EXPORT-*, IMPORT-*)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import orjson

from sessionstore import ExportDocument, ImportRejected, ImportReport
from sessionstore.semantics import from_ms

from ..errors import expect, expect_raises
from ..schemas import export_errors
from ..wire.transforms import setting
from .helpers import expect_same, expect_unchanged, nested, snapshot
from .registry import Ctx, check


def record(session_id: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": session_id,
        "data": {"from": "import"},
        "version": 3,
        "created_at": "2029-12-31T00:00:00.000Z",
        "updated_at": "2029-12-31T12:00:00.000Z",
        "expires_at": None,
        "owner": None,
    }
    base.update(fields)
    return base


def document(*records: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "sessionstore-export",
        "format_version": 1,
        "exported_at": "2030-01-01T00:00:00.000Z",
        "sessions": list(records),
    }


@check("EXPORT-1", "REC-5")
async def check_export(ctx: Ctx) -> None:
    """export holds exactly the live sessions, all fields, valid against the schema."""
    store = ctx.store
    made = [
        await store.create({"n": 1}, id="e1"),
        await store.create({"u": "ünï"}, id="e2", ttl=60, owner="ada"),
    ]
    if ctx.has_clock:
        await store.create({"gone": True}, id="e0", ttl=1)
        ctx.clock.advance(1)
        made[0] = await store.replace("e1", {"n": 2})
        ctx.clock.advance(999)
    doc = await store.export()
    expect(isinstance(doc, ExportDocument), "EXPORT-1", f"export returned {type(doc).__name__}")
    as_json = orjson.loads(doc.to_json())
    problems = export_errors(as_json)
    expect(
        not problems,
        "EXPORT-1",
        f"the export is not valid against export.schema.json: {problems[:3]}",
    )
    expect(
        sorted(s.id for s in doc.sessions) == ["e1", "e2"],
        "EXPORT-1",
        f"export holds {[s.id for s in doc.sessions]}, not the live sessions e1, e2",
    )
    by_id = {s.id: s for s in doc.sessions}
    for session in made:
        item = by_id[session.id]
        for name in ("data", "version", "created_at", "updated_at", "expires_at", "owner"):
            expect(
                getattr(item, name) == getattr(session, name),
                "EXPORT-1",
                f"export of {session.id} has {name}={getattr(item, name)!r}, the store {getattr(session, name)!r}",
            )
    stamps = [as_json["exported_at"]] + [s["created_at"] for s in as_json["sessions"]]
    expect(
        all(len(t) == 24 and t.endswith("Z") for t in stamps),
        "REC-5",
        f"timestamps are not YYYY-MM-DDTHH:MM:SS.mmmZ: {stamps}",
    )


@check("IMPORT-5", "IMPORT-6")
async def check_round_trip(ctx: Ctx) -> None:
    """Sessions exported from one store import into another unchanged."""
    store = ctx.store
    made = [
        await store.create({"n": 1, "deep": {"l": [1, "two", None]}}, id="r1"),
        await store.create({}, ttl=120, owner="ada"),
    ]
    made[0] = await store.update("r1", setting(n=2))
    doc = await store.export()
    async with ctx.another() as other:
        report = await other.import_(doc)
        expect(report == ImportReport(imported=2), "IMPORT-6", f"import reported {report!r}")
        for session in made:
            expect_same(session, await other.get(session.id), "IMPORT-5", "an imported session")
        text = doc.to_json()
    async with ctx.another() as third:
        await third.import_(text)
        for session in made:
            expect_same(
                session,
                await third.get(session.id),
                "IMPORT-5",
                "a session imported from JSON text",
            )


@check("IMPORT-1", "VAL-3", "ERR-2")
async def check_import_rejects_invalid(ctx: Ctx) -> None:
    """An invalid document is rejected whole, with every problem and its JSON pointer."""
    store = ctx.store
    await store.create({"n": 1}, id="v")
    before = await snapshot(store, ["v"])
    bad = document(
        record("ok1"), record("bad id!"), record("ok2", version=0), record("ok3", data=[1])
    )
    try:
        await store.import_(bad)
    except ImportRejected as exc:
        pointers = {p.pointer for p in exc.problems}
        for expected in ("/sessions/1/id", "/sessions/2/version", "/sessions/3/data"):
            expect(
                any(p.startswith(expected) for p in pointers),
                "IMPORT-1",
                f"ImportRejected does not point at {expected}: {sorted(pointers)}",
            )
    except Exception as exc:
        raise AssertionError(f"[IMPORT-1] import raised {exc!r}, not ImportRejected") from exc
    else:
        expect(False, "IMPORT-1", "an invalid document was imported")
    await expect_unchanged(
        store, ["v", "ok1"], before + [None], ("IMPORT-1", "ERR-2"), "a rejected import"
    )
    for junk, what in (
        (b"{not json", "bytes that are not JSON"),
        ([1, 2], "a list"),
        ({**document(), "extra": 1}, "an unknown field"),
        (document(record("x"), record("x")), "duplicate ids"),
        # JSON text may carry integers no float can hold; they must not be rounded in (VAL-3)
        (json.dumps(document(record("big", data={"n": 10**30}))).encode(), "a 31-digit integer"),
        (json.dumps(document(record("neg", data={"n": -(2**63) - 1}))), "an integer below -2**63"),
    ):
        with expect_raises(ImportRejected, "IMPORT-1", f"import of {what}"):
            await store.import_(junk)  # type: ignore[arg-type]  # wrong types on purpose
    expect(await store.count() == 1, ("IMPORT-1", "ERR-2"), "a rejected import changed the count")


@check("IMPORT-2", "IMPORT-1", "VAL-4")
async def check_import_all_or_nothing(ctx: Ctx) -> None:
    """One record over the store's limits rejects the whole import."""
    store = ctx.store
    deep: dict[str, Any] = {}
    for _ in range(store.limits.max_depth):
        deep = {"d": deep}
    with expect_raises(ImportRejected, ("IMPORT-1", "VAL-4"), "import of data too deep"):
        await store.import_(document(record("a1"), record("a2", data=deep), record("a3")))
    expect(await store.count() == 0, "IMPORT-2", "a rejected import imported some records")


@check("IMPORT-3")
async def check_import_expired(ctx: Ctx) -> None:
    """Records already expired are skipped and counted. With the injected clock exactly
    (a record expiring at now is expired); in real time, records expired by more than the
    tolerance are skipped and far-future ones imported."""
    store = ctx.store
    now = ctx.now_ms()
    records = [
        record("past", expires_at=stamp(now - ctx.skew_ms - 1000)),
        record("future", expires_at=stamp(now + (1 if ctx.has_clock else 3_600_000))),
    ]
    if ctx.has_clock:  # the boundary: LIVE-1 at the store's now
        records.append(record("edge", expires_at=stamp(now)))
    report = await store.import_(document(*records))
    expected = ImportReport(imported=1, skipped_expired=len(records) - 1)
    expect(report == expected, "IMPORT-3", f"import reported {report!r}, expected {expected!r}")
    expect(
        await store.get("past") is None and await store.get("edge") is None,
        "IMPORT-3",
        "an expired record was imported",
    )
    expect(await store.get("future") is not None, "IMPORT-3", "a live record was not imported")


def stamp(ms: int) -> str:
    """An epoch millisecond as an export document's timestamp (REC-5)."""
    return from_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@check("IMPORT-4", "IMPORT-6", "ERR-2")
async def check_import_conflicts(ctx: Ctx) -> None:
    """on_conflict: error rejects all, skip keeps the stored session, replace overwrites it."""
    store = ctx.store
    mine = await store.create({"mine": True}, id="clash")
    doc = document(record("clash", data={"theirs": True}), record("fresh"))
    with expect_raises(ImportRejected, "IMPORT-4", "import of a live id with on_conflict='error'"):
        await store.import_(doc)
    expect(
        await store.get("fresh") is None,
        ("IMPORT-4", "ERR-2"),
        "a rejected import imported a record",
    )
    skipped = await store.import_(doc, on_conflict="skip")
    expect(
        skipped == ImportReport(imported=1, skipped_conflict=1),
        "IMPORT-6",
        f"skip reported {skipped!r}",
    )
    expect_same(
        mine, await store.get("clash"), "IMPORT-4", "the stored session after on_conflict='skip'"
    )
    await store.delete("fresh")
    replaced = await store.import_(doc, on_conflict="replace")
    expect(
        replaced == ImportReport(imported=1, replaced=1),
        "IMPORT-6",
        f"replace reported {replaced!r}",
    )
    got = await store.get("clash")
    expect(
        got is not None and got.data == {"theirs": True} and got.version == 3,
        "IMPORT-4",
        f"on_conflict='replace' left {got!r}",
    )


@check("EXPORT-2", "EXPORT-1")
async def check_export_chunks(ctx: Ctx) -> None:
    """export_chunks() streams the same document as export(), in several pieces."""
    store = ctx.store
    chunks = getattr(store, "export_chunks", None)
    expect(chunks is not None, "EXPORT-2", "the store offers no export_chunks()")
    assert chunks is not None
    for i in range(2500):
        await store.create({"i": i, "s": "ü" * (i % 5)}, id=f"x{i:04d}", ttl=60 if i % 2 else None)
    await store.create(id="owned", owner="ada")
    pieces = [piece async for piece in chunks()]
    expect(all(isinstance(p, bytes) for p in pieces), "EXPORT-2", "a piece is not bytes")
    expect(len(pieces) >= 3, "EXPORT-2", f"2,501 sessions came in {len(pieces)} piece(s)")
    try:
        streamed = orjson.loads(b"".join(pieces))
    except orjson.JSONDecodeError as exc:
        raise AssertionError(f"[EXPORT-2] the pieces do not join into JSON: {exc}") from exc
    problems = export_errors(streamed)
    expect(
        not problems, ("EXPORT-2", "EXPORT-1"), f"the streamed export is not valid: {problems[:3]}"
    )
    whole = orjson.loads((await store.export()).to_json())
    expect(
        sorted(streamed["sessions"], key=lambda s: s["id"])
        == sorted(whole["sessions"], key=lambda s: s["id"]),
        "EXPORT-2",
        "the streamed export holds other sessions (or other fields) than export()",
    )


def cut(text: bytes, seed: int) -> list[bytes]:
    """``text`` in pieces of 1 to 64 bytes: pieces split values, keys and UTF-8 characters."""
    rng = random.Random(seed)
    pieces, start = [], 0
    while start < len(text):
        size = rng.randint(1, 64)
        pieces.append(text[start : start + size])
        start += size
    return pieces


async def aiter_of(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def rejection(call: Awaitable[Any], clause: str, what: str) -> set[str]:
    """The pointers of the ImportRejected that ``call`` must raise."""
    try:
        await call
    except ImportRejected as exc:
        return {p.pointer for p in exc.problems}
    except Exception as exc:
        raise AssertionError(f"[{clause}] {what} raised {exc!r}, not ImportRejected") from exc
    raise AssertionError(f"[{clause}] {what} was imported")


@check("IMPORT-7", "IMPORT-1", "IMPORT-2", "IMPORT-4", "IMPORT-6")
async def check_import_chunks(ctx: Ctx) -> None:
    """import_chunks() imports a document cut into small pieces exactly as import_ does."""
    chunks = getattr(ctx.store, "import_chunks", None)
    expect(chunks is not None, "IMPORT-7", "the store offers no import_chunks()")
    assert chunks is not None
    records = [
        record(f"c{i:03d}", data={"i": i, "s": "ü€😀" * (i % 4)}, owner="ada" if i % 3 else None)
        for i in range(300)
    ]
    texts = {
        "compact JSON": orjson.dumps(document(*records)),
        "indented JSON": json.dumps(document(*records), indent=1).encode(),
    }
    async with ctx.another() as source:
        await source.import_(texts["compact JSON"])
        exported = getattr(source, "export_chunks", None)
        if exported is not None:
            texts["the store's export_chunks"] = b"".join([piece async for piece in exported()])
    for seed, (layout, text) in enumerate(texts.items()):
        async with ctx.another() as whole, ctx.another() as streamed:
            expected = await whole.import_(text)
            pieces = cut(text, seed)
            given = aiter_of(pieces) if seed % 2 else pieces  # async and sync sources
            got = await getattr(streamed, "import_chunks")(given)  # noqa: B009 - optional (IMPORT-7)
            expect(
                got == expected,
                ("IMPORT-7", "IMPORT-6"),
                f"import_chunks of {layout} reported {got!r}, import_ {expected!r}",
            )
            for item in records:
                expect_same(
                    await whole.get(item["id"]),
                    await streamed.get(item["id"]),
                    "IMPORT-7",
                    f"a session imported by import_chunks from {layout}",
                )
    await check_chunks_reject(ctx, chunks, records)


async def check_chunks_reject(ctx: Ctx, chunks: Any, records: list[dict[str, Any]]) -> None:
    """Invalid documents in pieces change nothing; conflicts follow on_conflict."""
    store = ctx.store
    mine = await store.create({"mine": True}, id="c150")  # mid-document
    before = await snapshot(store, ["c150", "c001", "c299"])
    bad = records[:-1] + [record("c299", version=0, data=[1])]
    # over this store's own depth limit, though within the default one (Validation limits)
    deep = records[:-1] + [record("c299", data=nested(store.limits.max_depth + 1))]
    for what, text in (
        ("a document whose last record is invalid", orjson.dumps(document(*bad))),
        ("a document whose last record is too deep", orjson.dumps(document(*deep))),
        ("a document cut short", orjson.dumps(document(*records))[:-1]),
        ("a document with a live id and on_conflict='error'", orjson.dumps(document(*records))),
    ):
        pointers = await rejection(chunks(cut(text, 7)), "IMPORT-7", f"import_chunks of {what}")
        await expect_unchanged(
            store, ["c150", "c001", "c299"], before, ("IMPORT-7", "IMPORT-2"), f"{what}"
        )
        expected = await rejection(store.import_(text), "IMPORT-1", f"import_ of {what}")
        expect(
            pointers == expected,
            ("IMPORT-7", "IMPORT-1"),
            f"import_chunks of {what} found problems at {sorted(pointers)[:5]}, import_ at {sorted(expected)[:5]}",
        )
    text = orjson.dumps(document(*records))
    skipped = await chunks(cut(text, 8), on_conflict="skip")
    expect(
        skipped == ImportReport(imported=299, skipped_conflict=1),
        ("IMPORT-7", "IMPORT-6"),
        f"import_chunks with on_conflict='skip' reported {skipped!r}",
    )
    expect_same(mine, await store.get("c150"), ("IMPORT-7", "IMPORT-4"), "a skipped session")
    replaced = await chunks(aiter_of(cut(text, 9)), on_conflict="replace")
    expect(
        replaced == ImportReport(replaced=300),
        ("IMPORT-7", "IMPORT-6"),
        f"import_chunks with on_conflict='replace' reported {replaced!r}",
    )
    got = await store.get("c150")
    expect(
        got is not None and got.data == records[150]["data"],
        ("IMPORT-7", "IMPORT-4"),
        f"on_conflict='replace' left {got!r}",
    )


#: Records per document of the large imports: past the few thousand where a store may
#: switch to a batched or staged way of applying an import.
LARGE_IMPORT = 3000


def _varied(prefix: str, count: int, expires_at: str) -> list[dict[str, Any]]:
    """``count`` valid records with every field varied: versions, owners, expiries."""
    return [
        record(
            f"{prefix}{i:05d}",
            data={"i": i, "p": prefix},
            version=i % 7 + 1,
            owner="ada" if i % 3 == 0 else None,
            expires_at=expires_at if i % 2 else None,
        )
        for i in range(count)
    ]


@check("IMPORT-2", "IMPORT-3", "IMPORT-4", "IMPORT-5", "IMPORT-6", "CONC-1")
async def check_large_imports_beside_writes(ctx: Ctx) -> None:
    """Two imports of thousands of records run at once with writes to other sessions:
    each import takes effect whole (IMPORT-2), with its records exact (IMPORT-5), its
    report exact (IMPORT-6: imported, replaced, skipped_expired), and every write,
    delete, purge and small import made meanwhile is kept (CONC-1). One document goes
    as JSON text, with on_conflict="replace", the other as a mapping."""
    store = ctx.store
    later = stamp(ctx.now_ms() + 86_400_000)
    first = _varied("a", LARGE_IMPORT, later)
    first += [record(f"k{i:02d}", data={"clash": i}) for i in range(50)]  # replace these
    first += [record(f"x{i:03d}", expires_at="2000-01-01T00:00:00.000Z") for i in range(100)]
    second = _varied("b", LARGE_IMPORT - 500, later)
    for i in range(50):
        await store.create({"was": i}, id=f"k{i:02d}")
        await store.create({"was": i}, id=f"w{i:02d}")
        await store.create({"was": i}, id=f"d{i:02d}")

    async def writes() -> None:  # yielding between calls, so that they land mid-import
        for i in range(50):
            await store.replace(f"w{i:02d}", {"now": i})
            await store.create({"new": i}, id=f"n{i:02d}")
            await store.delete(f"d{i:02d}")
            await store.purge_expired()
            await store.import_(document(record(f"s{i:02d}", data={"small": i})))
            await asyncio.sleep(0)

    reports = await asyncio.gather(
        store.import_(orjson.dumps(document(*first)), on_conflict="replace"),  # as JSON text
        store.import_(document(*second)),
        writes(),
    )
    wanted = (
        ImportReport(imported=LARGE_IMPORT, skipped_expired=100, replaced=50),
        ImportReport(imported=LARGE_IMPORT - 500),
    )
    expect(
        tuple(reports[:2]) == wanted,
        "IMPORT-6",
        f"the imports reported {reports[:2]}, not {wanted}",
    )
    held = {s["id"]: s for s in orjson.loads((await store.export()).to_json())["sessions"]}
    imported = [r for r in first + second if not r["id"].startswith("x")]
    wrong = [r["id"] for r in imported if held.get(r["id"]) != r]
    expect(
        not wrong, ("IMPORT-5", "IMPORT-2"), f"{len(wrong)} imported records differ: {wrong[:3]}"
    )
    expired = [i for i in held if i.startswith("x")]
    expect(not expired, "IMPORT-3", f"expired records were imported: {expired[:3]}")
    lost = [
        i
        for i in range(50)
        if held.get(f"w{i:02d}", {}).get("data") != {"now": i}
        or held.get(f"n{i:02d}", {}).get("data") != {"new": i}
    ]
    lost += [i for i in range(50) if f"d{i:02d}" in held or f"s{i:02d}" not in held]
    expect(not lost, "CONC-1", f"writes made during the imports were lost: {lost[:3]}")
    expect(
        len(held) == len(imported) + 150,
        ("IMPORT-2", "CONC-1"),
        f"the store holds {len(held)} sessions, not {len(imported) + 150}",
    )
