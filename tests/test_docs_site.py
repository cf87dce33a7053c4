"""The documentation site, built as CI builds it and looked at in a real browser.

The site is built once per run in strict mode (``mkdocs build --strict``: a broken link,
an unknown anchor or a page left out of the navigation fails it) and checked in the
built HTML: every clause of spec/SPEC.md has its anchor on the spec page, search finds a
clause by its id, every page is reachable from the navigation, the generated pages hold
what the kit's registry and the broken-store gallery say, and the kit's report links
each clause to an anchor that exists. Then headless Chromium opens the main pages at
1280 px, served on loopback, takes a screenshot of each and measures it: no horizontal
overflow of the page, no element of the content wider than the viewport or reaching
past the content column, none scrolling sideways (code blocks aside).

``nox -s docs`` runs this file (the docs extra: MkDocs, Material, mkdocstrings); without
Material the tests skip. Chromium is the Debian package ``chromium`` (.ci/run installs
it): missing on CI it fails the browser test, elsewhere it skips it. To look at another
build (the readthedocs theme of before, say), point DOCS_SITE at its folder.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec" / "SPEC.md"
CLAUSE_LINE = re.compile(r"^- \*\*([A-Z]+-[0-9]+)\*\* \((MUST|SHOULD|MAY)\) ")
#: The pages a reader lands on; each is opened in Chromium at 1280 px.
MAIN_PAGES = [
    "",
    "semantics/",
    "spec/",
    "schemas/",
    "backends/",
    "operations/",
    "conformance/",
    "traceability/",
    "gallery/",
    "reference/python/",
    "reference/cli/",
    # the widest tables of figures: ten columns, and five of p50/p99 pairs
    "event-loop/",
    "redis/",
]
VIEWPORT = (1280, 900)


def spec_clause_ids() -> list[str]:
    lines = SPEC.read_text(encoding="utf-8").splitlines()
    return [m[1] for m in map(CLAUSE_LINE.match, lines) if m]


class _Page(HTMLParser):
    """The ids and the links of one HTML page, and the links inside its main navigation."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.nav_links: list[str] = []
        self._nav_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "nav":
            classes = (found.get("class") or "").split()
            if self._nav_depth or "md-nav--primary" in classes:
                self._nav_depth += 1
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
            if self._nav_depth:
                self.nav_links.append(str(found["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self._nav_depth:
            self._nav_depth -= 1


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site: DOCS_SITE if set, else a fresh strict build of this tree."""
    for extra in ("material", "mkdocstrings"):
        pytest.importorskip(extra, reason="the docs extra is not installed: nox -s docs runs these")
    given = os.environ.get("DOCS_SITE")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out


def html_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("index.html") if "assets" not in p.parts)


def url_of(site: Path, page: Path) -> str:
    """The page's URL path below the site root ("" for the home page, "spec/", ...)."""
    return "" if page.parent == site else page.parent.relative_to(site).as_posix() + "/"


def test_every_clause_has_its_anchor_on_the_spec_page(site: Path) -> None:
    ids = spec_clause_ids()
    assert len(ids) > 50 and "TOUCH-2" in ids
    page = parse(site / "spec" / "index.html")
    missing = [cid for cid in ids if cid not in page.ids]
    assert not missing, f"clauses without an anchor on spec/: {missing}"
    # the anchor is the clause's own: a self-link on its id, as a report links to it
    assert not [cid for cid in ids if f"#{cid}" not in page.links]


def test_the_spec_page_is_the_spec(site: Path) -> None:
    """Rendered from spec/SPEC.md, not a copy: every clause's text is on the page."""
    html = (site / "spec" / "index.html").read_text(encoding="utf-8")
    text = " ".join(unescape(re.sub(r"<[^>]+>", "", html)).replace("*", "").split())
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        match = CLAUSE_LINE.match(line)
        if match:
            words = re.sub(r"[`*]", "", line[match.end() :]).split()[:8]
            assert " ".join(words) in text, f"{match[1]} text not on spec/"


def test_the_schemas_are_published_as_files_and_rendered(site: Path) -> None:
    for schema in sorted((ROOT / "spec" / "schema").glob("*.json")):
        published = site / "schema" / schema.name
        assert json.loads(published.read_text()) == json.loads(schema.read_text())
        assert f"../schema/{schema.name}" in parse(site / "schemas" / "index.html").links
        assert (
            json.loads(schema.read_text())["$id"] in (site / "schemas" / "index.html").read_text()
        )


def test_search_indexes_each_clause_under_its_id(site: Path) -> None:
    """Search indexes a page by its headings: each clause is a section of its own,
    at its anchor, titled by its id (found in a browser below)."""
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    titles = {d["location"]: d["title"] for d in index["docs"]}
    for cid in spec_clause_ids():
        assert titles.get(f"spec/#{cid}", "").startswith(f"{cid} "), cid


#: What a browser fetches while it shows a page: scripts, stylesheets, fonts, icons, images.
FETCHED = re.compile(r'<(?:script|img|link(?![^>]*rel="canonical"))[^>]*?(?:src|href)="([^"]+)"')


def test_nothing_is_fetched_from_another_site_and_code_is_highlighted(site: Path) -> None:
    """Offline the site looks the same: no script, stylesheet or font from a CDN, and
    code is highlighted when the site is built (Pygments' spans), not in the browser."""
    for page in html_pages(site):
        html = page.read_text(encoding="utf-8")
        remote = [url for url in FETCHED.findall(html) if urlsplit(url).scheme]
        assert not remote, f"{url_of(site, page) or 'home'} fetches {remote}"
    for css in (site / "assets").rglob("*.css"):
        assert not re.search(r"url\(['\"]?https?:|@import", css.read_text()), css
    example = (site / "getting-started" / "index.html").read_text(encoding="utf-8")
    assert '<div class="highlight">' in example and '<span class="kn">' in example


def test_every_page_is_reachable_from_the_navigation(site: Path) -> None:
    home = parse(site / "index.html")
    in_nav = {urljoin("/", href).split("#")[0] for href in home.nav_links}
    pages = {"/" + url_of(site, p) for p in html_pages(site)}
    assert len(pages) > 20
    assert not pages - in_nav, f"pages not in the navigation: {sorted(pages - in_nav)}"
    assert not {u for u in in_nav if not urlsplit(u).scheme} - pages, "nav links to no page"


def test_the_traceability_page_lists_every_clause_and_check(site: Path) -> None:
    from sessionstore_conformance.checks import REGISTRY

    page = parse(site / "traceability" / "index.html")
    assert {f"check-{c.name}" for c in REGISTRY} <= page.ids
    html = (site / "traceability" / "index.html").read_text(encoding="utf-8")
    for check in REGISTRY:  # each check's row links each clause it names to the spec
        row = html[html.index(f'id="check-{check.name}"') :].split("</tr>")[0]
        for cid in check.clauses:
            assert f'href="../spec/#{cid}"' in row, (check.name, cid)


def test_the_kill_table_names_every_broken_store_and_its_clause(site: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from broken import CONCURRENT, GALLERY, LATENCY
    from broken.slow import SLOW

    html = (site / "gallery" / "index.html").read_text(encoding="utf-8")
    rows = {row.split("</td>")[0]: row for row in html.split("<tr>")[1:]}
    for mutant in GALLERY + CONCURRENT + SLOW + LATENCY:
        (row,) = [r for head, r in rows.items() if f"<code>{mutant.name}</code>" in head]
        for cid in mutant.expected:
            assert f'href="../spec/#{cid}"' in row, (mutant.name, cid)


@pytest.mark.parametrize(
    ("module", "page"), [("sessionstore", "python"), ("sessionstore.toolkit", "toolkit")]
)
def test_the_api_reference_documents_every_public_name(site: Path, module: str, page: str) -> None:
    import importlib

    public = importlib.import_module(module).__all__
    ids = parse(site / "reference" / page / "index.html").ids
    assert not [name for name in public if f"{module}.{name}" not in ids]


def test_the_cli_reference_is_each_commands_help(site: Path) -> None:
    import click
    from click.testing import CliRunner

    from sessionstore.cli import main as operator
    from sessionstore_conformance.cli import main as kit

    html = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    text = " ".join(re.sub(r"<[^>]+>", "", html).replace("&quot;", '"').split())
    for group, program in ((operator, "sessionstore"), (kit, "sessionstore-conformance")):
        for name in group.list_commands(click.Context(group)):
            helped = CliRunner().invoke(group, [name, "--help"], prog_name=program)
            assert helped.exit_code == 0
            first_option = next(line for line in helped.output.splitlines() if "--" in line)
            assert f"{program} {name} --help" in text
            assert " ".join(first_option.split()) in text, (program, name)


def test_the_backend_table_is_the_committed_benchmark(site: Path) -> None:
    run = json.loads((ROOT / "benchmarks" / "results" / "bench.json").read_text())
    html = (site / "backends" / "index.html").read_text(encoding="utf-8")
    assert run["started"] in html
    assert {"ours:memory", "ours:sqlite", "ours:redis"} <= {r["subject"] for r in run["results"]}
    for op in {r["op"] for r in run["results"]}:
        assert f"<code>{op}</code>" in html


def test_the_reports_clause_links_land_on_the_built_anchors(site: Path) -> None:
    import yaml

    from sessionstore_conformance import report

    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    assert report.spec_url() == config["site_url"] + "spec/"
    anchors = parse(site / "spec" / "index.html").ids
    for cid in spec_clause_ids():
        link = report.clause_url(cid)
        assert link.startswith(report.spec_url()) and urlsplit(link).fragment in anchors


def test_the_report_links_each_clause_to_the_site(monkeypatch: pytest.MonkeyPatch) -> None:
    """Markdown: a link per clause row and per failure's clause; on a terminal the clause
    id is a hyperlink (OSC 8); piped, no escape codes. SESSIONSTORE_SPEC_URL moves them."""
    from rich.console import Console
    from test_report import failing_report

    from sessionstore_conformance.report import SPEC_URL, render_terminal, to_markdown

    report = failing_report()
    text = to_markdown(report)
    for result in report.clauses:
        cid = result.clause.id
        assert f"| [spec]({SPEC_URL}#{cid}) |" in text.split(f"| {cid} | ", 1)[1].split("\n")[0]
    assert f"clauses [{report.checks[0].blamed[0]}]({SPEC_URL}#" in text
    on_terminal = io.StringIO()
    render_terminal(report, Console(file=on_terminal, force_terminal=True, width=200))
    assert "\x1b]8;id=" in on_terminal.getvalue() and f"{SPEC_URL}#GET-1" in on_terminal.getvalue()
    monkeypatch.setenv("SESSIONSTORE_SPEC_URL", "http://127.0.0.1:8000/spec/")
    assert "](http://127.0.0.1:8000/spec/#GET-1)" in to_markdown(report)


# --- in a browser ----------------------------------------------------------------------

#: Run at load: how wide the document is, and every element of the content that is
#: wider than the viewport, reaches past the content column's right edge (where a theme
#: clips it: the readthedocs theme's overview table lost its last column so), or hides
#: part of itself behind a sideways scrollbar. Code blocks scroll on their own: a <pre>
#: and what is inside it are not counted. The result goes into the DOM as JSON.
PROBE = r"""<script>
// inline code wrapped at a line's end pokes out by its padding (3 px), which is no overflow
const SLACK = 4;
const measure = () => {
  const vw = document.documentElement.clientWidth;
  const content = ["article", "[role=main]", "main", "body"]
    .map((selector) => document.querySelector(selector)).find(Boolean);
  const edge = content.getBoundingClientRect().right;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (typeof el.className === "string" && el.className ? "." + el.className.split(" ")[0] : "") +
    (el.tagName === "TABLE" ? " (" + el.innerText.slice(0, 40).replace(/\s+/g, " ") + "…)" : "");
  const wide = [];
  for (const el of content.querySelectorAll("*")) {
    if (el.closest("pre")) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0) continue;
    if (box.width > vw || box.right > edge + SLACK) {
      wide.push(name(el) + " right=" + Math.round(box.right) + " (column ends at " + Math.round(edge) + ")");
    } else if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== "visible") {
      wide.push(name(el) + " scrolls sideways: " + el.scrollWidth + " px in " + el.clientWidth);
    }
  }
  const out = document.createElement("script");
  out.type = "application/json";
  out.id = "overflow-probe";
  out.textContent = JSON.stringify({
    scrollWidth: document.documentElement.scrollWidth, clientWidth: vw, wide: wide });
  document.body.appendChild(out);
};
// a second after load (virtual time): once the theme's own scripts have run (the
// readthedocs theme wraps its tables in scrolling boxes then)
window.addEventListener("load", () => setTimeout(measure, 1000));
</script>"""
RESULT = re.compile(r'<script type="application/json" id="overflow-probe">(.*?)</script>', re.S)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is missing on CI: .ci/run installs the Debian package chromium")
    pytest.skip("chromium is not installed (Debian package chromium)")


#: A page whose URL asks for a search (``?q=``) also loads HOLD, which the server
#: answers only once the page has fetched READY, which it does when Material's search
#: worker has indexed the site and shown results (or after SEARCH_LIMIT seconds): so the
#: page's load, and Chromium's --dump-dom, wait for the results whatever the machine's
#: load. (Virtual time, which the overflow check uses, does not run the worker.)
HOLD, READY = "/__hold", "/__ready"
SEARCH_LIMIT = 60.0
WAIT_FOR_RESULTS = f"""<script>
new MutationObserver((_, observer) => {{
  if (document.querySelector(".md-search-result__link")) {{
    observer.disconnect();
    fetch("{READY}");
  }}
}}).observe(document.body, {{ childList: true, subtree: true }});
</script><img src="{HOLD}" alt="">"""


class _Probed(http.server.SimpleHTTPRequestHandler):
    """Serves the site, with the probe added to every HTML page."""

    results_shown = threading.Event()

    def send_head(self):  # type: ignore[no-untyped-def]
        if self.path in (HOLD, READY):
            if self.path == READY:
                self.results_shown.set()
            else:
                self.results_shown.wait(SEARCH_LIMIT)
                self.results_shown.clear()
            self.send_response(204)
            self.end_headers()
            return None
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if path.suffix != ".html" or not path.is_file():
            return super().send_head()
        tail = PROBE + (WAIT_FOR_RESULTS if "q=" in urlsplit(self.path).query else "")
        body = path.read_bytes().replace(b"</body>", tail.encode() + b"</body>")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    handler = functools.partial(_Probed, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def browse(url: str, *options: str) -> str:
    """The DOM of ``url`` once loaded in headless Chromium at 1280 px."""
    done = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", *options, "--dump-dom", url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.stdout, f"chromium printed no DOM for {url}:\n{done.stderr[-2000:]}"
    return done.stdout


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


@pytest.mark.slow
@pytest.mark.parametrize("page", MAIN_PAGES, ids=lambda p: p or "home")
def test_no_horizontal_overflow_at_1280_px(
    page: str, site: Path, served: str, tmp_path: Path
) -> None:
    if not (site / page / "index.html").is_file():
        pytest.fail(f"{page or 'home'} is not in the built site")
    shot = tmp_path / "page.png"
    dom = browse(served + page, "--virtual-time-budget=5000", f"--screenshot={shot}")
    found = RESULT.search(dom)
    assert found, "no probe result from chromium"
    assert png_size(shot) == VIEWPORT
    measured = json.loads(found[1])
    wide = measured["wide"]
    assert measured["scrollWidth"] <= measured["clientWidth"] and not wide, (
        f"{page or 'home'} overflows at {VIEWPORT[0]} px: the document is "
        f"{measured['scrollWidth']} px wide; elements that do not fit: {wide[:10]}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("clause", ["TOUCH-2", "LIVE-1", "IMPORT-7"])
def test_searching_the_site_for_a_clause_id_lands_on_the_clause(served: str, clause: str) -> None:
    """Typed into the search box (``?q=``), a clause id's first result is the spec page,
    and its first section is the clause, at its anchor."""
    dom = browse(served + "?q=" + clause)
    found = re.findall(r'href="([^"]*)" class="md-search-result__link"', dom)
    links = [urlsplit(unescape(href)) for href in found]
    assert links, "the search showed no results"
    assert links[0].path == "/spec/", links[0]
    first_section = next(link for link in links if link.fragment)
    assert (first_section.path, first_section.fragment) == ("/spec/", clause), first_section


def test_nested_list_items_are_indented_by_four_spaces() -> None:
    """Python-Markdown nests a list item only when it is indented by four spaces: one
    indented by one to three spaces renders as an item of the outer list, and the site
    shows the nesting flat. (A source check: it needs no build.)"""
    bad = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        fenced = False
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
            elif not fenced and re.match(r"^ {1,3}(?:[-*+]|\d+\.) ", line):
                bad.append(f"{page.relative_to(ROOT)}:{number}: {line.strip()[:60]}")
    assert not bad, "\n".join(bad)
