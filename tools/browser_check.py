"""Check every page of the built book in a real browser (headless Chromium via Playwright).

    python tools/browser_check.py [_build/html] [--pages GLOB ...] [--max-script-mb 3] [--max-weight-mb 3]

Serves the build over HTTP on 127.0.0.1 (as a reader's browser would load it), opens each
page in Debian's Chromium (``/usr/bin/chromium``, or ``$CHROMIUM``; Playwright's own browser
download is never used) and checks, per page:

- no console errors and no uncaught exceptions;
- every math node (``span.math``, ``div.math``) typeset by MathJax into SVG output;
- at 1280 px: no table, display equation, image, code line (notebook code, printed output or a
  Markdown code block) wider than the content column, and no inline formula in a scroll box;
- loaded afresh at 420 px: no horizontal scroll of the page itself; a table wider than the screen
  keeps its first column in view (sticky) or is laid out as cards; a display equation that scrolls
  shows that it does (the scroll shadows of _static/book.css); the previous/next links are whole
  and on the screen;
- scroll bars shown, as a desktop browser draws them (Playwright hides them by default);
- the page names its icon (a favicon) and every request it makes succeeds;
- every image loaded, and described by alt text (not a file hash);
- the scripts a page loads sum to under ``--max-script-mb`` MB (decoded), and everything it loads
  (the HTML, scripts, styles, fonts, the search index; images aside) to under ``--max-weight-mb``
  MB (3): the report gives the median and the worst page;
- and once, on the search page: each ``SEARCH_PROBES`` query ranks a page titled with it first,
  and no result snippet of the ``SNIPPET_PROBES`` shows TeX source.

Prints one line per failing page (worst first) and exits 1 if any page fails.
"""
from __future__ import annotations

import argparse
import fnmatch
import functools
import http.server
import os
import re
import shutil
import statistics
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-dev-shm-usage"]
WIDE, NARROW = 1280, 420
SKIP_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static", "_panels_static"}

# Runs in the page once it has loaded and MathJax has finished. Returns the measurements.
MEASURE_JS = r"""
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; } catch (e) {}
  }
  const main = document.querySelector('article.bd-article') || document.querySelector('[role=main]')
            || document.body;
  const colRight = main.getBoundingClientRect().right;
  const colWidth = main.clientWidth;
  const label = (el) => {
    const t = (el.getAttribute('alt') || el.textContent || '').replace(/\s+/g, ' ').trim();
    const id = el.id || (el.closest('[id]') || {}).id || '';
    return (id ? '#' + id + ' ' : '') + t.slice(0, 60);
  };
  const out = {untypeset: [], chtml: 0, wide: [], images: [], noalt: [], scriptBytes: 0, math: 0};
  for (const el of document.querySelectorAll('span.math, div.math')) {
    out.math += 1;
    const c = el.querySelector('mjx-container');
    if (!c) out.untypeset.push(label(el));
    else if (c.getAttribute('jax') !== 'SVG') out.chtml += 1;
  }
  // An element is too wide when it needs more room than its box (`box`, the element that
  // holds it: an equation's mjx-container, a table's scroll wrapper) or than the column.
  const tooWide = (el, kind, width, box) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return;               // hidden (e.g. a closed tab)
    const room = Math.min(colWidth, box ? box.clientWidth : colWidth);
    if (width > room + 1 || r.left + width > colRight + 1)
      out.wide.push(`${kind} ${Math.round(width)}px > ${Math.round(room)}px: ${label(el)}`);
  };
  for (const t of main.querySelectorAll('table')) tooWide(t, 'table', t.scrollWidth, t.parentElement);
  for (const m of main.querySelectorAll('mjx-container[display="true"]')) {
    const svg = m.querySelector('svg');
    tooWide(m, 'equation', svg ? svg.getBoundingClientRect().width : m.scrollWidth, m);
  }
  // A notebook's code (formatted to 88 columns), its printed outputs and Markdown code blocks
  // show whole lines, not scroll them away.
  for (const pre of main.querySelectorAll('pre'))
    if (pre.clientWidth > 0 && pre.scrollWidth > pre.clientWidth + 1) {
      const kind = pre.closest('div.cell_input') ? 'code' : pre.closest('div.cell_output') ? 'output' : 'code block';
      out.wide.push(`${kind} ${pre.scrollWidth}px > ${pre.clientWidth}px: ${label(pre)}`);
    }
  // An inline formula sits in the line: a scroll box around it draws a scroll bar under it.
  for (const m of main.querySelectorAll('mjx-container:not([display="true"])'))
    if (getComputedStyle(m).overflowX !== 'visible' && m.scrollWidth > m.clientWidth)
      out.wide.push(`inline formula in a scroll box (${m.scrollWidth}px > ${m.clientWidth}px): ${label(m.closest('p, li, td') || m)}`);
  out.favicon = !!document.querySelector('link[rel~="icon"]');
  for (const img of document.querySelectorAll('img')) {
    const alt = img.getAttribute('alt') || '';
    if (main.contains(img) && (alt.length < 4 || /^[0-9a-f]{32,}/.test(alt))) out.noalt.push(img.getAttribute('src'));
    if (!img.complete || img.naturalWidth === 0) out.images.push(img.getAttribute('src'));
    else if (main.contains(img)) tooWide(img, 'image', img.getBoundingClientRect().width, img.parentElement);
  }
  // What the page weighs: every file it loads (the HTML, scripts, styles, fonts, the search index),
  // images aside (they are the content). Measured after MathJax, so its on-demand parts count.
  out.weight = {};
  const kind = (url) => {
    const path = new URL(url, location.href).pathname;
    if (/searchindex\.js$/.test(path)) return 'index';
    if (/\.(png|jpe?g|gif|svg|webp|ico)$/i.test(path)) return null;
    if (/\.(woff2?|ttf|otf|eot)$/i.test(path)) return 'fonts';
    if (/\.css$/i.test(path)) return 'styles';
    if (/\.m?js$/i.test(path)) return 'scripts';
    return 'other';
  };
  const add = (k, bytes) => { if (k) out.weight[k] = (out.weight[k] || 0) + bytes; };
  for (const e of performance.getEntriesByType('navigation')) add('html', e.decodedBodySize || e.encodedBodySize || 0);
  for (const e of performance.getEntriesByType('resource')) {
    const bytes = e.decodedBodySize || e.encodedBodySize || 0;
    if (e.initiatorType === 'script') out.scriptBytes += bytes;
    add(kind(e.name), bytes);
  }
  return out;
}
"""
# Runs on the page loaded afresh at 420 px: what a phone reader cannot reach.
NARROW_JS = r"""
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; } catch (e) {}
  }
  const main = document.querySelector('article.bd-article') || document.querySelector('[role=main]')
            || document.body;
  const label = (el) => {
    const id = el.id || (el.closest('[id]') || {}).id || '';
    return (id ? '#' + id + ' ' : '') + (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 60);
  };
  const out = {scroll: document.documentElement.scrollWidth - document.documentElement.clientWidth, problems: []};
  for (const t of main.querySelectorAll('table')) {
    const r = t.getBoundingClientRect();
    if (r.width === 0 || getComputedStyle(t).display === 'block') continue;   // hidden, or cards
    let box = t.parentElement;
    while (box && box !== main && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
    const room = box ? box.clientWidth : main.clientWidth;
    if (t.scrollWidth <= room + 1) continue;
    const first = t.querySelector('tbody tr > :first-child') || t.querySelector('tr > :first-child');
    if (!first || getComputedStyle(first).position !== 'sticky')
      out.problems.push(`table ${t.scrollWidth}px > ${room}px scrolls its first column out of view: ${label(t)}`);
  }
  // The links to the previous and next page: whole, and on the screen.
  const screen = document.documentElement.clientWidth;
  for (const a of document.querySelectorAll('.prev-next-area a')) {
    const r = a.getBoundingClientRect();
    if (r.width === 0) continue;
    const parts = [a, ...a.querySelectorAll('*')].filter((el) => el.getBoundingClientRect().width > 0);
    if (a.scrollWidth > a.clientWidth + 1 || parts.some((el) => el.getBoundingClientRect().right > screen + 1))
      out.problems.push(`"${(a.querySelector('.prev-next-subtitle') || a).textContent.trim()}" link cut (${a.scrollWidth}px in ${a.clientWidth}px): ${label(a.querySelector('.prev-next-title') || a)}`);
  }
  for (const m of main.querySelectorAll('mjx-container[display="true"]'))
    if (m.scrollWidth > m.clientWidth + 1 && getComputedStyle(m).backgroundImage === 'none')
      out.problems.push(`equation ${m.scrollWidth}px > ${m.clientWidth}px scrolls with no sign that it does: ${label(m)}`);
  return out;
}
"""
# Playwright starts Chromium with --hide-scrollbars; a reader's browser draws them (15 px, classic).
SHOW_SCROLLBARS = ["--hide-scrollbars"]


@dataclass
class PageResult:
    page: str
    problems: list[str] = field(default_factory=list)
    script_mb: float = 0.0
    math: int = 0
    weight: dict[str, int] = field(default_factory=dict)   # bytes loaded, by kind (html, scripts, ...)

    @property
    def weight_mb(self) -> float:
        return sum(self.weight.values()) / 1e6


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        sys.exit("browser_check: no chromium found; `make setup` installs Debian's chromium")
    return path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):  # the browser closed a tab mid-transfer
            pass


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def find_pages(root: Path, patterns: list[str] | None = None) -> list[str]:
    pages = []
    for p in sorted(root.rglob("*.html")):
        rel = p.relative_to(root)
        if rel.parts[0] in SKIP_DIRS:
            continue
        if patterns and not any(fnmatch.fnmatch(rel.as_posix(), pat) for pat in patterns):
            continue
        if 'http-equiv="Refresh"' in p.read_text(errors="replace")[:2000]:
            continue  # a redirect stub (index.html -> the root page), checked as its target
        pages.append(rel.as_posix())
    return pages


def check_page(browser, base: str, page: str, max_script_mb: float,
               max_weight_mb: float = 3.0) -> PageResult:
    res = PageResult(page)
    ctx = browser.new_context(viewport={"width": WIDE, "height": 900})
    tab = ctx.new_page()
    narrow_tab = ctx.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    tab.on("requestfailed", lambda r: errors.append(f"failed request: {r.url}"))
    missing: list[str] = []
    tab.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    try:
        tab.goto(base + page, wait_until="load", timeout=60_000)
        m = tab.evaluate(MEASURE_JS)
        tab.close()
        narrow_tab.set_viewport_size({"width": NARROW, "height": 900})
        narrow_tab.goto(base + page, wait_until="load", timeout=60_000)
        narrow = narrow_tab.evaluate(NARROW_JS)
    finally:
        ctx.close()
    res.math = m["math"]
    res.script_mb = m["scriptBytes"] / 1e6
    res.weight = m["weight"]
    page_missing = list(dict.fromkeys(missing))
    if not page_missing:
        errors = [e for e in errors if not e.startswith("Failed to load resource")]
    res.problems += [f"missing: {u}" for u in page_missing]
    res.problems += [f"console: {e[:160]}" for e in dict.fromkeys(errors)]
    res.problems += [f"math not typeset: {t}" for t in m["untypeset"]]
    if m["chtml"]:
        res.problems.append(f"{m['chtml']} math nodes rendered as CHTML, not SVG")
    res.problems += [f"at {WIDE}px: {w}" for w in m["wide"]]
    res.problems += [f"image not loaded: {s}" for s in m["images"]]
    res.problems += [f"image without alt text (or a file hash as alt): {s}" for s in m["noalt"]]
    if not m["favicon"]:
        res.problems.append("no favicon (link rel=icon): the browser asks for /favicon.ico")
    if narrow["scroll"] > 1:
        res.problems.append(f"at {NARROW}px: the page scrolls sideways by {narrow['scroll']}px")
    res.problems += [f"at {NARROW}px: {p}" for p in narrow["problems"]]
    if res.script_mb > max_script_mb:
        res.problems.append(f"scripts: {res.script_mb:.1f} MB > {max_script_mb} MB")
    if res.weight_mb > max_weight_mb:
        parts = ", ".join(f"{k} {v / 1e6:.2f}" for k, v in sorted(res.weight.items(), key=lambda kv: -kv[1]))
        res.problems.append(f"weight: {res.weight_mb:.2f} MB > {max_weight_mb} MB ({parts})")
    return res


# Search probes: a query and a word the first result's title must hold. Sphinx stems "MixupE"
# to "mixup"; book/_ext/search_scorer.js ranks titles holding the word as typed first.
SEARCH_PROBES = {"MixupE": "MixupE"}


# Queries whose result snippets are read for TeX source (a snippet is the page's text around the
# word; book/_ext/search_scorer.js reads each formula out as plain text).
SNIPPET_PROBES = ["MixupE", "regulariser"]
TEX_IN_SNIPPET = r"\\[A-Za-z]+|\\[()\[\]]|\$\$"
SNIPPETS_JS = "() => [...document.querySelectorAll('#search-results li p.context')].map((p) => p.textContent)"


def check_search(browser, base: str) -> PageResult:
    res = PageResult("search.html")
    tab = browser.new_page()
    try:
        for query in dict.fromkeys([*SEARCH_PROBES, *SNIPPET_PROBES]):
            tab.goto(base + f"search.html?q={query}", wait_until="load", timeout=60_000)
            tab.wait_for_selector("#search-results li a", timeout=30_000)
            first = tab.evaluate("() => document.querySelector('#search-results li a').textContent.trim()")
            word = SEARCH_PROBES.get(query)
            if word and word.lower() not in first.lower().split():
                res.problems.append(f"search {query!r}: first result {first!r} has no {word!r} in its title")
            # snippets arrive one by one, each after its page is fetched
            tab.wait_for_function("() => document.querySelectorAll('#search-results li p.context').length >= "
                                  "Math.min(5, document.querySelectorAll('#search-results li').length)", timeout=30_000)
            for text in tab.evaluate(SNIPPETS_JS):
                if m := re.search(TEX_IN_SNIPPET, text):
                    res.problems.append(f"search {query!r}: a snippet shows TeX ({m.group(0)!r}): {text.strip()[:80]}")
                    break
    finally:
        tab.close()
    return res


def check(root: Path, patterns: list[str] | None = None, max_script_mb: float = 3.0,
          verbose: bool = True, max_weight_mb: float = 3.0) -> list[PageResult]:
    from playwright.sync_api import sync_playwright

    pages = find_pages(root, patterns)
    if not pages:
        sys.exit(f"browser_check: no pages under {root}")
    server, base = serve(root)
    results = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS,
                                         ignore_default_args=SHOW_SCROLLBARS)
            for page in pages:
                results.append(check_page(browser, base, page, max_script_mb, max_weight_mb))
            if "search.html" in pages:
                results.append(check_search(browser, base))
            browser.close()
    finally:
        server.shutdown()
    if verbose:
        report(results)
    return results


def report(results: list[PageResult]) -> None:
    bad = sorted((r for r in results if r.problems), key=lambda r: -len(r.problems))
    weights = sorted(r.weight_mb for r in results if r.weight)
    print(f"browser_check: {len(results)} pages, {sum(r.math for r in results)} math nodes, "
          f"largest script total {max(r.script_mb for r in results):.2f} MB, "
          f"page weight median {statistics.median(weights) if weights else 0:.2f} MB, "
          f"worst {max(weights, default=0):.2f} MB; {len(bad)} pages with problems")
    for r in bad:
        print(f"\n{r.page}: {len(r.problems)} problem(s)")
        for p in r.problems[:12]:
            print(f"  - {p}")
        if len(r.problems) > 12:
            print(f"  ... and {len(r.problems) - 12} more")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default="_build/html")
    ap.add_argument("--pages", nargs="*", help="only pages matching these globs (e.g. 'book/zou2023/*')")
    ap.add_argument("--max-script-mb", type=float, default=3.0)
    ap.add_argument("--max-weight-mb", type=float, default=3.0,
                    help="most MB a page may load: HTML, scripts, styles, fonts, search index (not images)")
    args = ap.parse_args(argv)
    results = check(Path(args.root), args.pages, args.max_script_mb, max_weight_mb=args.max_weight_mb)
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
