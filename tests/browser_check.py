"""Browser check of the built book (run by `make test` after the strict build).

Serves _build/html on 127.0.0.1 and opens every page of the table of contents in Debian's
headless chromium, driven by Playwright (which downloads no browser of its own). Each page
must load with no console error, no failed request and no request leaving the machine; every
piece of maths must be typeset by the book's own MathJax (no raw TeX left); every image must
load; and the navigation must reach every chapter. A full-page screenshot of each page is
saved under _build/screenshots/.

Where chromium is not installed (not Debian or Ubuntu), the check is skipped with a message;
under CI=true it must run.
"""

from __future__ import annotations

import functools
import json
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    return None


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                pages.append(e["file"])
            walk(e.get("sections"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return [f"{p}.html" for p in pages]


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").exists():
        pytest.fail("the book is not built: run `make book-strict` (make test does) first")
    handler = functools.partial(QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed, and under CI the browser check must run "
                        "(`make browser-deps` installs Debian's chromium)")
        pytest.skip("SKIPPED browser check: chromium is not installed here (Debian/Ubuntu: "
                    "`make browser-deps`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, url: str):
    """Open ``url``; return (page, problems) with every console error, page error, failed or
    off-machine request collected while it loads and MathJax typesets."""
    problems: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    # the location names the resource of a "Failed to load resource" error, which the text does not
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} at {m.location.get('url')}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))

    def on_response(resp):
        if resp.status >= 400:
            problems.append(f"HTTP {resp.status}: {resp.url}")

    def on_request(req):
        host = urlparse(req.url).hostname
        if req.url.startswith(("http:", "https:")) and host != "127.0.0.1":
            problems.append(f"request leaves the machine: {req.url}")

    page.on("response", on_response)
    page.on("request", on_request)
    page.goto(url, wait_until="load")
    # Sphinx loads MathJax only on pages that contain maths
    if page.locator("script[src*='mathjax/tex-chtml.js']").count():
        page.wait_for_function("() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise", timeout=15000)
        page.evaluate("() => window.MathJax.startup.promise")
    page.wait_for_load_state("networkidle")
    return page, problems


@pytest.mark.parametrize("path", toc_pages())
def test_page_renders_cleanly(browser, site, path):
    page, problems = open_page(browser, site + path)
    try:
        assert page.title(), f"{path}: no title"
        math = page.evaluate("""() => {
            const all = [...document.querySelectorAll('span.math, div.math')];
            return {total: all.length,
                    raw: all.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60)),
                    errors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent)};
        }""")
        assert not math["raw"], f"{path}: maths left as raw TeX: {math['raw'][:5]}"
        if math["total"]:
            assert page.locator("script[src*='_static/mathjax/tex-chtml.js']").count() == 1
        assert not math["errors"], f"{path}: MathJax errors: {math['errors'][:5]}"
        images = page.evaluate("""() => [...document.querySelectorAll('img')]
            .filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)""")
        assert not images, f"{path}: images that did not load: {images}"
        # nothing is cut off on the right: code, printed output and tables fit the text column
        cut = page.evaluate("""() => [...document.querySelectorAll(
                'article pre, article div.output.text_html')]
            .filter(e => e.scrollWidth > e.clientWidth + 1)
            .map(e => e.textContent.trim().split('\\n')[0].slice(0, 60))""")
        assert not cut, f"{path}: wider than the text column: {cut[:5]}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / (path.replace("/", "__").replace(".html", ".png"))), full_page=True)
        assert not problems, f"{path}: " + "; ".join(problems)
    finally:
        page.close()


def test_maths_is_typeset_somewhere(browser, site):
    """The intro's notation table is full of maths: it must come out typeset."""
    page, problems = open_page(browser, site + "intro.html")
    try:
        assert page.locator("mjx-container").count() >= 20
        assert not problems, "; ".join(problems)
    finally:
        page.close()


def test_navigation_reaches_every_chapter(browser, site):
    pages = toc_pages()
    page, problems = open_page(browser, site + "index.html")  # redirects to the root page
    try:
        sidebar = page.evaluate("""() => [...document.querySelectorAll('nav.bd-docs-nav a.reference')]
            .map(a => new URL(a.href).pathname)""")
        for p in pages[1:]:
            assert "/" + p in sidebar, f"the sidebar does not link to {p}"
        # follow the "next" links from the first page to the last
        visited = [urlparse(page.url).path.lstrip("/")]
        while (nxt := page.locator("a.right-next")).count():
            nxt.first.click()
            page.wait_for_load_state("load")
            visited.append(urlparse(page.url).path.lstrip("/"))
            assert len(visited) <= len(pages) + 2, "the next links loop"
        assert visited == pages, f"next links visit {visited}, the TOC lists {pages}"
        assert not problems, "; ".join(problems)
    finally:
        page.close()


def test_search_box_finds_a_chapter(browser, site):
    """A reader types a word into the search box (the header's search button opens it) and
    gets results that link to the chapter that uses it."""
    page, problems = open_page(browser, site + "chapters/01_the_ratings_matrix.html")
    try:
        page.locator("button.search-button__button:visible").first.click()
        box = page.locator("#pst-search-dialog input[name='q']")
        box.wait_for(state="visible", timeout=5000)
        box.type("conjugate")
        box.press("Enter")
        page.wait_for_url("**/search.html?q=conjugate*", timeout=15000)
        results = page.locator("#search-results ul.search li a")
        results.first.wait_for(timeout=30000)
        hrefs = results.evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert any("05_solving_linear_systems" in h for h in hrefs), f"search results: {hrefs[:10]}"
        assert not problems, "; ".join(problems)
    finally:
        page.close()


def test_chapter_offers_its_notebook_for_download(browser, site):
    """The download button's .ipynb link gives the chapter's notebook, with its outputs."""
    page, problems = open_page(browser, site + "chapters/04_alternating_least_squares.html")
    try:
        page.locator(".dropdown-download-buttons button").first.click()
        link = page.locator("a.btn-download-source-button[href$='.ipynb']")
        link.first.wait_for(state="visible", timeout=5000)
        href = link.first.get_attribute("href")
        assert urljoin(page.url, href) == site + "_sources/chapters/04_alternating_least_squares.ipynb"
        # served as a file of unknown type, the notebook is downloaded (in a new tab that closes)
        with page.expect_download() as download:
            link.first.click()
        assert download.value.suggested_filename == "04_alternating_least_squares.ipynb"
        nb = json.loads(Path(download.value.path()).read_text())
        assert nb["nbformat"] == 4
        titles = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
        assert any(t.startswith("# Alternating Least Squares") for t in titles)
        assert any(c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
        assert not problems, "; ".join(problems)
    finally:
        page.close()


def test_launch_buttons_open_this_chapter_on_binder_colab_and_thebe(browser, site):
    """The rocket menu: Binder and Colab open this chapter of the repository named in
    _config.yml, and "Live Code" (Thebe) is offered, configured for the same Binder repository.
    Nothing is launched (no network here): the links and the configuration are checked."""
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    slug = urlparse(repo).path.strip("/")
    nb = "chapters/04_alternating_least_squares.ipynb"
    page, problems = open_page(browser, site + nb.replace(".ipynb", ".html"))
    try:
        hrefs = page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.href)")
        assert f"https://mybinder.org/v2/gh/{slug}/main?urlpath=lab/tree/{nb}" in hrefs
        assert f"https://colab.research.google.com/github/{slug}/blob/main/{nb}" in hrefs
        assert page.locator("button[onclick^='initThebe']").count() == 1, "no Live Code button"
        config = page.locator("script[type='text/x-thebe-config']").first.text_content()
        assert f'repo: "{slug}"' in config and 'ref: "main"' in config
        assert not problems, "; ".join(problems)
    finally:
        page.close()
