"""The rule site (``skilltroc docs --site``), built and opened in headless Chromium.

The test builds the site, serves it on 127.0.0.1 and drives Debian's ``chromium`` through
the DevTools protocol (``websocket-client``): every Mermaid diagram renders to an SVG
without a parse error, a French and an English search each find their rule, the language
switch changes a rule's text, and no request leaves the machine. It saves a screenshot of
the refund matrix page in ``build/screenshots/`` for a person to look at. Without the
``docs`` extra or without chromium (``make check`` installs both) it skips, saying so.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from skilltroc_core.catalogue import rules
from skilltroc_core.tools.docsgen import state_machines_page

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "build" / "screenshots" / "refund-matrix.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: what Chromium needs here: no sandbox (root in a container), no GPU, nothing of its own
#: on the network (no QUIC, sync, component updates, background fetches)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0",
         # nothing but this machine resolves: a request for another host cannot leave it
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

websocket = pytest.importorskip(
    "websocket", reason="the site's browser test needs the docs extra: "
    "pip install -e '.[docs]' (make check installs it)")
pytest.importorskip("mkdocs", reason="the rule site needs the docs extra: "
                    "pip install -e '.[docs]' (make check installs it)")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skilltroc_core.tools.site import build_site  # noqa: PLC0415 - after the skip

    out = tmp_path_factory.mktemp("site") / "site"
    build_site(out, ROOT)
    return out


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class Browser:
    """One Chromium tab driven through the DevTools protocol; it keeps every event."""

    def __init__(self, url: str) -> None:
        self.socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.events: list[dict[str, Any]] = []
        self.requests: list[str] = []
        self.last_id = 0
        for domain in ("Page", "Network", "Runtime", "DOM"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  width=1280, height=1000, deviceScaleFactor=1, mobile=False)

    def _receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.socket.recv())
        if "method" in message:
            self.events.append(message)
            if message["method"] == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"]["url"])
        return message

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        self.socket.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            message = self._receive()
            if message.get("id") == self.last_id:
                assert "error" not in message, (method, message["error"])
                result: dict[str, Any] = message["result"]
                return result

    def open(self, url: str) -> None:
        self.events.clear()
        self.send("Page.navigate", url=url)
        self._loaded(url)

    def follow(self, selector: str) -> None:
        """Click the link ``selector`` and wait for the page it leads to."""
        self.events.clear()
        # clicked after this evaluation answers, so the navigation cannot cut it short
        self.value(f"setTimeout(() => document.querySelector({json.dumps(selector)}).click())")
        self._loaded(selector)

    def _loaded(self, what: str) -> None:
        deadline = time.monotonic() + 30
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            assert time.monotonic() < deadline, f"{what} did not load"
            self._receive()

    def value(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, seconds: float = 20) -> Any:
        deadline = time.monotonic() + seconds
        while True:
            value = self.value(expression)
            if value:
                return value
            assert time.monotonic() < deadline, f"gave up waiting: {what}"
            time.sleep(0.2)

    def errors(self) -> list[str]:
        return [str(e["params"]) for e in self.events
                if e["method"] == "Runtime.exceptionThrown" or (
                    e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed: 'apt-get install chromium' (make check "
                    "installs it when run as root)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.is_file() or not port_file.read_text().strip():
            assert process.poll() is None, f"chromium stopped ({process.returncode})"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank",
                                         method="PUT")
        with urllib.request.urlopen(request, timeout=30) as answer:
            tab = json.load(answer)
        driven = Browser(tab["webSocketDebuggerUrl"])
        yield driven
        driven.socket.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _offsite(requests: list[str]) -> list[str]:
    return [url for url in requests if urlsplit(url).scheme in {"http", "https", "ws", "wss"}
            and urlsplit(url).hostname not in LOCAL_HOSTS]


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in (*node.get("children", ()), *node.get("shadowRoots", ())):
        yield from _nodes(child)


def test_every_lifecycle_diagram_renders_to_an_svg(served: str, browser: Browser) -> None:
    expected = state_machines_page().count("```mermaid")
    browser.open(f"{served}/lifecycles.html")
    browser.wait_for(f"document.querySelectorAll('div.mermaid').length === {expected} && "
                     "document.querySelectorAll('pre.mermaid').length === 0",
                     f"{expected} rendered diagrams")
    # the theme draws each diagram in a closed shadow root: the DevTools protocol sees it
    document = browser.send("DOM.getDocument", depth=-1, pierce=True)["root"]
    diagrams = [node for node in _nodes(document) if node.get("nodeName") == "DIV"
                and "mermaid" in dict(zip(*[iter(node.get("attributes", []))] * 2,
                                          strict=True)).get("class", "")]
    assert len(diagrams) == expected
    for diagram in diagrams:
        inside = list(_nodes(diagram))
        assert any(node.get("nodeName", "").lower() == "svg" for node in inside)
        texts = " ".join(node.get("nodeValue", "") for node in inside)
        assert "Syntax error" not in texts and "Parse error" not in texts
    assert not browser.errors()
    assert not _offsite(browser.requests), _offsite(browser.requests)


def _search(browser: Browser, query: str, target: str) -> str:
    """Type ``query`` in the search box; the results' links once one is ``target`` (a
    page and a rule's anchor)."""
    browser.value(f"""(() => {{
        const input = document.querySelector('.md-search__input');
        input.focus();
        input.value = {json.dumps(query)};
        for (const kind of ['focus', 'input', 'keyup', 'change'])
            input.dispatchEvent(new Event(kind, {{bubbles: true}}));
    }})()""")
    found: str = browser.wait_for(
        "(() => { const links = [...document.querySelectorAll('a.md-search-result__link')]"
        ".map(link => new URL(link.href).pathname + new URL(link.href).hash); "
        f"return links.some(link => link === {json.dumps(target)}) "
        "? links.join(' | ') : ''; })()",
        f"a search result for {query!r} linking to {target}")
    return found


@pytest.mark.parametrize(("start", "query", "target"), [
    # French words of the French rule text, searched on the French pages: the French page
    ("/fr/index.html", "remboursement", "/fr/rules/refund.html#refund-1"),
    # an English word of the English rule text, on the English pages: the English page
    ("/index.html", "unregister", "/rules/book.html#book-19"),
])
def test_a_search_finds_the_rule_in_either_language(served: str, browser: Browser,
                                                    start: str, query: str,
                                                    target: str) -> None:
    browser.open(f"{served}{start}")
    assert target in _search(browser, query, target)
    assert not _offsite(browser.requests), _offsite(browser.requests)


def test_the_language_switch_changes_the_rule_text(served: str, browser: Browser) -> None:
    [rule] = [rule for rule in rules() if rule.id == "BOOK-14"]
    text = "document.getElementById('book-14').nextElementSibling.textContent.trim()"
    browser.open(f"{served}/rules/book.html")
    assert browser.value(text) == rule.text.en
    browser.follow('a.md-select__link[hreflang="fr"]')  # the language selector's link
    assert browser.value("location.pathname") == "/fr/rules/book.html"
    assert browser.value("document.documentElement.lang") == "fr"
    assert browser.value(text) == rule.text.fr
    assert not _offsite(browser.requests), _offsite(browser.requests)


def test_the_refund_matrix_page_is_saved_as_a_screenshot(served: str, browser: Browser) -> None:
    browser.open(f"{served}/refund-matrix.html")
    browser.wait_for("document.querySelectorAll('table').length >= 6", "the matrix tables")
    shot = browser.send("Page.captureScreenshot", format="png")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.write_bytes(base64.b64decode(shot["data"]))
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG")
    assert not browser.errors()
    assert not _offsite(browser.requests), _offsite(browser.requests)
