"""Print the single-page HTML build of the book to one PDF with headless Chromium (offline).

    python tools/print_pdf.py [_build/singlehtml] [_build/pdf/book.pdf]

``make pdf`` builds ``jupyter-book build . --builder singlehtml`` first. The page is served
over HTTP on 127.0.0.1, opened in Debian's Chromium (through Playwright, as in
``tools/browser_check.py``), printed only after MathJax has typeset every formula, with every
dropdown opened, so math, theorem blocks, figures and tables are the ones a
reader sees on screen; code cells the page collapses (``hide-input``: imports, cells over 30
lines) stay collapsed, as on screen. Prints the page count and size of the PDF.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser_check  # noqa: E402

PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article, .prev-next-area,
.bd-footer, .bd-footer-article, .bd-footer-content, #pst-back-to-top, .headerlink,
button.toggle-button, .copybtn, dialog { display: none !important; }
.bd-main .bd-content .bd-article-container, .bd-page-width, .bd-content, .bd-article
  { max-width: 100% !important; width: 100% !important; padding: 0 !important; }
body { font-size: 11pt; }
div.math mjx-container[display="true"] { overflow: visible !important; }
div.cell, figure, table, .proof, .admonition { break-inside: avoid; }
h1, h2 { break-after: avoid; }
"""


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def print_pdf(root: Path, out: Path) -> tuple[int, int]:
    from playwright.sync_api import sync_playwright

    page_file = root / "index.html"
    if 'http-equiv="Refresh"' in page_file.read_text(errors="replace")[:2000]:
        page_file = next(p for p in sorted(root.rglob("*.html"))
                         if p.relative_to(root).parts[0] not in browser_check.SKIP_DIRS
                         and 'http-equiv="Refresh"' not in p.read_text(errors="replace")[:2000])
    # Sphinx's singlehtml writes the page at the root document's path (book/intro.html) but links
    # its assets as if it sat at the root (_static/..., _images/...): print a copy from the root.
    if page_file.parent != root:
        copy = root / "_book_for_print.html"
        copy.write_text(page_file.read_text())
        page_file = copy
    server, base = browser_check.serve(root)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=browser_check.chromium_path(),
                                         args=browser_check.CHROMIUM_ARGS)
            tab = browser.new_page(viewport={"width": 1100, "height": 1400})
            tab.goto(base + page_file.relative_to(root).as_posix(), wait_until="load", timeout=300_000)
            untypeset = tab.evaluate("""async () => {
              if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
              // dropdowns open; code the page collapses (hide-input) stays a one-line toggle
              document.querySelectorAll('details:not(.above-input)').forEach(d => d.open = true);
              document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
              return [...document.querySelectorAll('span.math, div.math')]
                .filter(e => !e.querySelector('mjx-container')).length;
            }""")
            if untypeset:
                raise SystemExit(f"print_pdf: {untypeset} math nodes not typeset; not printing")
            tab.add_style_tag(content=PRINT_CSS)
            tab.emulate_media(media="print")
            out.parent.mkdir(parents=True, exist_ok=True)
            tab.pdf(path=str(out), format="A4", print_background=True, outline=True, tagged=True,
                    display_header_footer=True, header_template="<span></span>",
                    footer_template='<div style="font-size:8pt;width:100%;text-align:center">'
                                    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>',
                    margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"})
            browser.close()
    finally:
        server.shutdown()
    data = out.read_bytes()
    return page_count(data), len(data)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else "_build/singlehtml")
    out = Path(argv[1] if len(argv) > 1 else "_build/pdf/book.pdf")
    pages, size = print_pdf(root, out)
    print(f"{out}: {pages} pages, {size / 1e6:.1f} MB")
    return 0 if pages > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
