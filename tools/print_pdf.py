"""Print the single-page HTML build of the book to one PDF with headless Chromium (offline).

    python tools/print_pdf.py [_build/singlehtml] [_build/pdf/book.pdf]

``make pdf`` builds ``jupyter-book build . --builder singlehtml`` first. The page is served
over HTTP on 127.0.0.1, opened in Debian's Chromium (through Playwright, as in
``tools/browser_check.py``), printed only after MathJax has typeset every formula, with every
dropdown opened, so math, theorem blocks, figures and tables are the ones a
reader sees on screen; code cells the page collapses (``hide-input``: imports, cells over 30
lines) stay collapsed, as on screen.

The printed book opens with a title page and a table of contents (linked to the chapters); each
chapter starts on a new page; blocks shorter than a third of a page are kept on one page, taller
ones may break (so no page is left half empty in front of them). Before printing, the page is
laid out at the printed width and measured (``PRINT_WIDTH_JS``): any text, formula or image that
would run past the right edge of the printable area, or be cut inside a scrolling box, fails the
run (exit 1; the PDF is still written to look at). Chromium writes the PDF's bookmarks from the
painted text of each heading, which runs lines together and repeats a heading painted across a page
break; ``fix_outline`` rewrites each bookmark's title with the heading's text as read in the page.
Prints the page count and size of the PDF.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser_check  # noqa: E402

# A4 with 14 mm side margins: the printable column is 182 mm wide, in CSS pixels (96 per inch).
PAGE_MARGIN_MM = {"top": 16, "bottom": 18, "left": 14, "right": 14}
PRINT_WIDTH_PX = (210 - PAGE_MARGIN_MM["left"] - PAGE_MARGIN_MM["right"]) / 25.4 * 96
PRINT_HEIGHT_PX = (297 - PAGE_MARGIN_MM["top"] - PAGE_MARGIN_MM["bottom"]) / 25.4 * 96

PRINT_COPY = "_book_for_print.html"   # the page copied to the root to be printed (below)

PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article, .prev-next-area,
.bd-footer, .bd-footer-article, .bd-footer-content, #pst-back-to-top, .headerlink,
button.toggle-button, .copybtn, dialog, #jb-print-docs-body { display: none !important; }
/* The theme prints the first page's title in a header of its own and hides each first h1. */
.bd-article h1:first-of-type { display: block !important; }
/* The content column is the printable width: no theme margin or padding left over beside it. */
.bd-container, .bd-container__inner, .bd-page-width, .bd-main, .bd-main .bd-content,
.bd-main .bd-content .bd-article-container, .bd-article
  { max-width: 100% !important; width: 100% !important; margin: 0 !important; padding: 0 !important; }
body { font-size: 11pt; }
/* Shadows print as bitmaps: none in print (the theme's are !important on classes: an id beats them). */
html:not(#print) *, html:not(#print) *::before, html:not(#print) *::after
  { box-shadow: none !important; text-shadow: none !important; filter: none !important; }
/* The scroll shadows of display equations (_static/book.css) mean nothing on paper. */
div.math mjx-container[display="true"] { background: none !important; }
/* Code and printed outputs wrap on paper (a scroll box would cut them). */
pre { white-space: pre-wrap !important; overflow-wrap: anywhere; overflow: visible !important; }
div.math mjx-container[display="true"] { overflow: visible !important; }
span.math > mjx-container { overflow: visible !important; }
.table-wrapper, .pst-scrollable-table-container { overflow: visible !important; }
/* Only short blocks are kept whole (marked by PREPARE_JS); a tall one breaks where it must. */
.bd-main .bd-content table { break-inside: auto; }
.bd-main .bd-content .print-keep, figure, img, tr, mjx-container[display="true"] { break-inside: avoid; }
/* A figure is at most half a page tall, so that moving it whole to the next page leaves no more. */
.bd-article img { max-height: 125mm !important; width: auto !important; max-width: 100% !important; object-fit: contain; }
h1, h2, h3, h4, p.caption { break-after: avoid; }
.print-chapter { break-before: page; }
.print-front { break-after: page; }
.print-front h1.print-title { font-size: 2.4rem; margin-top: 35%; }
.print-front p { font-size: 1.1rem; }
.print-toc ol { list-style: none; padding-left: 0; }
.print-toc ol ol { padding-left: 1.5rem; font-size: 0.95em; }
.print-toc a { text-decoration: none; color: inherit; }
"""

# Runs after MathJax: opens dropdowns, marks chapters and short blocks, writes the title page and
# the table of contents in front of the book.
PREPARE_JS = """
([pageHeight, title, author]) => {
  // dropdowns open; code the page collapses (hide-input) stays a one-line toggle
  document.querySelectorAll('details:not(.above-input)').forEach(d => d.open = true);
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  const article = document.querySelector('article.bd-article');
  for (const el of article.querySelectorAll('div.cell, table, .proof, .admonition, div.math, .claims-table'))
    if (el.getBoundingClientRect().height < pageHeight / 3) el.classList.add('print-keep');
  // a chapter: a document whose heading is numbered "N." (or not numbered at all), after the first
  const chapters = [];
  for (const mark of article.querySelectorAll('span[id^="document-"]')) {
    const sec = mark.nextElementSibling;
    if (!sec || sec.tagName !== 'SECTION') continue;
    const h = sec.querySelector('h1, h2');
    const num = h && h.querySelector('.section-number');
    if (!h || (num && !/^\\d+\\.\\s*$/.test(num.textContent))) continue;
    sec.classList.add('print-chapter');
    chapters.push([sec, h]);
  }
  const text = (h) => { const c = h.cloneNode(true); c.querySelectorAll('.headerlink').forEach(e => e.remove());
                        return c.textContent.replace(/\\s+/g, ' ').trim(); };
  const front = document.createElement('div');
  front.className = 'print-front';
  front.innerHTML = '<h1 class="print-title"></h1><p class="print-author"></p>';
  front.querySelector('h1').textContent = title;
  front.querySelector('p').textContent = author;
  const toc = document.createElement('nav');
  toc.className = 'print-front print-toc';
  toc.innerHTML = '<h1>Contents</h1><ol></ol>';
  const list = toc.querySelector('ol');
  for (const [sec, h] of chapters) {
    const li = document.createElement('li');
    li.innerHTML = '<a></a><ol></ol>';
    li.querySelector('a').textContent = text(h);
    li.querySelector('a').href = '#' + sec.id;
    const chapter = ((h.querySelector('.section-number') || {}).textContent || '').trim();
    for (const sub of chapter ? sec.querySelectorAll('h2, h3, h4') : []) {
      const s = sub.closest('section');
      const num = ((sub.querySelector('.section-number') || {}).textContent || '').trim();
      if (!new RegExp('^' + chapter.replace('.', '\\\\.') + '\\\\d+\\\\.$').test(num)) continue;
      const item = document.createElement('li');
      item.innerHTML = '<a></a>';
      item.querySelector('a').textContent = text(sub);
      item.querySelector('a').href = '#' + s.id;
      li.querySelector('ol').appendChild(item);
    }
    list.appendChild(li);
  }
  article.prepend(toc);
  article.prepend(front);
}
"""

# Runs in print layout at the printed width: what would run past the right edge of the printable
# area or be cut inside a box, and the text of every heading in the order Chromium bookmarks them.
PRINT_WIDTH_JS = """
(width) => {
  const shown = (el) => el.getClientRects().length > 0;
  const label = (el) => {
    const id = (el.closest('[id]') || {}).id || '';
    return (id ? '#' + id + ' ' : '') + (el.textContent || el.getAttribute('alt') || '').replace(/\\s+/g, ' ').trim().slice(0, 60);
  };
  const past = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.textContent.trim() || !n.parentElement || !shown(n.parentElement)) continue;
    if (n.parentElement.closest('mjx-assistive-mml, script, style')) continue;
    range.selectNodeContents(n);
    const right = Math.max(...[...range.getClientRects()].map(r => r.right), 0);
    if (right > width + 1) past.push(`text ${Math.round(right - width)}px past the edge: ${label(n.parentElement)}`);
  }
  for (const el of document.querySelectorAll('svg, img, table, pre')) {
    if (!shown(el) || el.closest('mjx-assistive-mml')) continue;
    const r = el.getBoundingClientRect();
    if (r.width && r.right > width + 1) past.push(`${el.tagName.toLowerCase()} ${Math.round(r.right - width)}px past the edge: ${label(el)}`);
  }
  // a box that scrolls or clips in print cuts what does not fit
  for (const el of document.querySelectorAll('article.bd-article *')) {
    if (el.scrollWidth <= el.clientWidth + 1 || !shown(el) || el.closest('svg, mjx-assistive-mml')) continue;
    const ox = getComputedStyle(el).overflowX;
    if (ox !== 'visible' && el.clientWidth > 0) past.push(`cut in its box by ${el.scrollWidth - el.clientWidth}px: ${label(el)}`);
  }
  const headingText = (h) => {
    const c = h.cloneNode(true);
    c.querySelectorAll('.headerlink').forEach(e => e.remove());
    c.querySelectorAll('mjx-container').forEach(m => {
      const mml = m.querySelector('mjx-assistive-mml');
      m.replaceWith(document.createTextNode(mml ? mml.textContent : ''));
    });
    return c.textContent.replace(/\\s+/g, ' ').trim();
  };
  const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6, [role=heading]')]
    .filter(shown).map(headingText);
  return {past, headings, pageWidth: document.documentElement.scrollWidth};
}
"""


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def _pdf_text(s: str) -> bytes:
    """A PDF text string: UTF-16BE with its byte-order mark, written in hex."""
    return b"<FEFF" + s.encode("utf-16-be").hex().upper().encode() + b">"


def _title_text(raw: bytes) -> str:
    """The text of a PDF string as Chromium writes a title: (literal) or <FEFF hex UTF-16BE>."""
    if raw.startswith(b"<"):
        data = bytes.fromhex(raw[1:-1].decode())
        return data[2:].decode("utf-16-be", "replace") if data[:2] == b"\xfe\xff" else data.decode("latin-1")
    return re.sub(rb"\\(.)", rb"\1", raw[1:-1]).decode("latin-1")


def fix_outline(pdf: bytes, titles: list[str]) -> bytes:
    """Rewrite the titles of the PDF's bookmarks, in document order, as ``titles``.

    Appends an incremental update (new versions of the bookmark objects, a cross-reference
    section and a trailer pointing at the previous one), so the rest of the file is untouched.
    Raises ValueError when the PDF has another number of bookmarks than ``titles``.
    """
    objects = {int(m.group(1)): m for m in re.finditer(rb"(?m)^(\d+) 0 obj\n(.*?)\nendobj", pdf, re.S)}
    outlines = re.search(rb"/Type /Outlines\s*/First (\d+) 0 R", pdf)
    if not outlines:
        raise ValueError("the PDF has no bookmarks")
    order: list[int] = []

    def walk(first: int | None) -> None:
        while first is not None:
            order.append(first)
            body = objects[first].group(2)
            child = re.search(rb"/First (\d+) 0 R", body)
            walk(int(child.group(1)) if child else None)
            nxt = re.search(rb"/Next (\d+) 0 R", body)
            first = int(nxt.group(1)) if nxt else None

    walk(int(outlines.group(1)))
    if len(order) != len(titles):
        raise ValueError(f"the PDF has {len(order)} bookmarks, the page {len(titles)} headings")
    # Chromium's title holds the heading's words (run together, maybe twice): each new title's
    # first word must be in the old one, or the two lists are not the same headings.
    for num, title in zip(order, titles):
        old = _title_text(re.search(rb"/Title (\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f]*>)", objects[num].group(2)).group(1))
        word = re.search(r"\w+", title)
        if word and word.group(0).lower() not in old.lower():
            raise ValueError(f"bookmark {old!r} is not the heading {title!r}")
    trailer = re.findall(rb"trailer\s*<<(.*?)>>\s*startxref\s*(\d+)", pdf, re.S)[-1]
    size = int(re.search(rb"/Size (\d+)", trailer[0]).group(1))
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    offsets = {}
    for num, title in zip(order, titles):
        body = re.sub(rb"/Title (\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f]*>)", lambda _: b"/Title " + _pdf_text(title),
                      objects[num].group(2), count=1)
        offsets[num] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (num, body)
    xref = len(out)
    out += b"xref\n"
    for num in sorted(offsets):
        out += b"%d 1\n%010d 00000 n \n" % (num, offsets[num])
    root_info = b"".join(re.findall(rb"/(?:Root|Info) \d+ 0 R", trailer[0]))
    out += b"trailer\n<</Size %d %s /Prev %s>>\nstartxref\n%d\n%%%%EOF\n" % (size, root_info, trailer[1], xref)
    return bytes(out)


def print_pdf(root: Path, out: Path) -> tuple[int, int, list[str]]:
    """Print the book; returns the page count, the file size and what runs past the page edge."""
    from playwright.sync_api import sync_playwright

    page_file = root / "index.html"
    if 'http-equiv="Refresh"' in page_file.read_text(errors="replace")[:2000]:
        page_file = next(p for p in sorted(root.rglob("*.html"))
                         if p.relative_to(root).parts[0] not in browser_check.SKIP_DIRS
                         and p.name != PRINT_COPY   # a copy left by an earlier run: old text
                         and 'http-equiv="Refresh"' not in p.read_text(errors="replace")[:2000])
    # Sphinx's singlehtml writes the page at the root document's path (book/intro.html) but links
    # its assets as if it sat at the root (_static/..., _images/...): print a copy from the root.
    if page_file.parent != root:
        copy = root / PRINT_COPY
        copy.write_text(page_file.read_text())
        page_file = copy
    html = page_file.read_text(errors="replace")
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    config = Path("_config.yml").read_text() if Path("_config.yml").exists() else ""
    author = re.search(r'(?m)^author:\s*"?([^"\n]*)"?', config)
    server, base = browser_check.serve(root)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=browser_check.chromium_path(),
                                         args=browser_check.CHROMIUM_ARGS)
            tab = browser.new_page(viewport={"width": round(PRINT_WIDTH_PX), "height": 1400})
            tab.goto(base + page_file.relative_to(root).as_posix(), wait_until="load", timeout=300_000)
            untypeset = tab.evaluate("""async () => {
              if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
              return [...document.querySelectorAll('span.math, div.math')]
                .filter(e => !e.querySelector('mjx-container')).length;
            }""")
            if untypeset:
                raise SystemExit(f"print_pdf: {untypeset} math nodes not typeset; not printing")
            tab.add_style_tag(content=PRINT_CSS)
            tab.emulate_media(media="print")
            tab.evaluate(PREPARE_JS, [PRINT_HEIGHT_PX, title.group(1).strip() if title else "",
                                      author.group(1) if author else ""])
            measured = tab.evaluate(PRINT_WIDTH_JS, PRINT_WIDTH_PX)
            out.parent.mkdir(parents=True, exist_ok=True)
            tab.pdf(path=str(out), format="A4", print_background=True, outline=True, tagged=True,
                    display_header_footer=True, header_template="<span></span>",
                    footer_template='<div style="font-size:8pt;width:100%;text-align:center">'
                                    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>',
                    margin={k: f"{v}mm" for k, v in PAGE_MARGIN_MM.items()})
            browser.close()
    finally:
        server.shutdown()
    data = fix_outline(out.read_bytes(), measured["headings"])
    out.write_bytes(data)
    return page_count(data), len(data), measured["past"]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else "_build/singlehtml")
    out = Path(argv[1] if len(argv) > 1 else "_build/pdf/book.pdf")
    pages, size, past = print_pdf(root, out)
    print(f"{out}: {pages} pages, {size / 1e6:.1f} MB; {len(past)} things past the page edge")
    for p in past[:40]:
        print(f"  - {p}")
    return 0 if pages > 0 and not past else 1


if __name__ == "__main__":
    sys.exit(main())
