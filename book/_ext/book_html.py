"""Sphinx extension: what every HTML page of the book loads, and how wide things may get.

Jupyter Book 1.x adds every ``*.js`` and ``*.css`` under ``_static/`` to every page
(``jupyter_book.config.get_final_config`` globs the static paths, once per entry of
``html_static_path``). ``make book`` copies the MathJax components the book's loader can request
to ``_static/mathjax`` so that the book renders offline; without this hook each page would
load every one of them, in any order, and they would fight
(console errors, SVG output silently replaced by CHTML). MathJax is loaded exactly once,
by Sphinx's ``mathjax_path``; its components are fetched on demand by its own loader.

The hook also removes duplicate entries (``_static`` listed twice in
``html_static_path`` loads each file twice), and duplicate inline scripts per page
(sphinx-thebe's config script is added twice: "Identifier 'THEBE_JS_URL' has already been
declared").

pydata-sphinx-theme loads ``fontawesome.js`` (1.5 MB) on every page "so that users can add
custom icons"; the book has none, and the theme's CSS webfont draws every icon it uses. The
theme's ``static/webpack-macros.html`` is shadowed by a copy without that one script tag
(generated from the installed theme at each build, so it follows the pinned version).
Likewise its ``layout.html`` loads Sphinx's search tools and the whole search index (250 kB)
on every page, for a search-as-you-type box the book does not enable (the search button opens
a form that goes to ``search.html``); the shadowing copy loads them on the search page only.

Its icon fonts (Font Awesome: 0.27 MB of the page weight for the twenty or so icons the theme
draws) are replaced by subsets: after the build, every icon the pages name (``fa-*`` classes in
the HTML and the theme's scripts) and every icon the stylesheets draw (private-use characters in
``content`` and ``--pst-icon-*``) is kept, and ``_static/fontawesome-subset.css`` declares the
subsets under the theme's family names after the theme's own declarations, so the browser loads
them instead (a few kB). Without fontTools the theme's full fonts stay.

The theme's empty ``default_mode`` makes its JavaScript log "Got invalid theme mode" on
every page; the book's figures are drawn for a light page, so the default is ``light``.
"""
from __future__ import annotations

import re
from pathlib import Path


#: Folders under ``_static`` whose files are loaded on demand, never by a <script>/<link> tag.
ON_DEMAND = ("mathjax/",)


def _name(entry) -> str:
    return entry[0] if isinstance(entry, (tuple, list)) else str(entry)


def keep_static(entries: list) -> list:
    """Entries of ``html_js_files``/``html_css_files`` without on-demand trees and duplicates."""
    seen, kept = set(), []
    for entry in entries:
        name = _name(entry)
        if name.startswith(ON_DEMAND) or name in seen:
            continue
        seen.add(name)
        kept.append(entry)
    return kept


def _config_inited(app, config):
    config.html_js_files = keep_static(list(config.html_js_files))
    config.html_css_files = keep_static(list(config.html_css_files))
    config.html_static_path = list(dict.fromkeys(config.html_static_path))
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "light")
    config.html_context = context
    folder = Path(app.doctreedir).parent / "templates_override"
    written = [_shadow(folder, "static/webpack-macros.html", ("fontawesome.js",)),
               _shadow(folder, "pydata_sphinx_theme/layout.html", SEARCH_ON_EVERY_PAGE)]
    if any(written):
        config.templates_path = [str(folder)] + list(config.templates_path)


#: The lines of pydata-sphinx-theme's layout.html that load the search tools on every page other
#: than the search page (which loads them itself).
SEARCH_ON_EVERY_PAGE = ("pathto('_static/searchtools.js', 1) | e", "pathto('_static/language_data.js', 1) | e",
                        "pathto('searchindex.js', 1) | e")


def _shadow(folder: Path, name: str, drop: tuple[str, ...]) -> bool:
    """Write ``folder/name``: the theme's template ``name`` without the lines holding any of ``drop``
    (each must be found, else nothing is written and the theme's own template stays in use)."""
    try:
        import pydata_sphinx_theme
    except ImportError:
        return False
    theme = Path(pydata_sphinx_theme.__file__).parent / "theme/pydata_sphinx_theme"
    source = theme / name.removeprefix("pydata_sphinx_theme/")
    if not source.exists():
        return False
    lines = source.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not any(d in line for d in drop)]
    if len(lines) - len(kept) != len(drop):
        return False
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(kept)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return True


def _dedupe_page_assets(app, pagename, templatename, context, doctree):
    for key in ("script_files", "css_files"):
        if key not in context:
            continue
        seen, kept = set(), []
        for asset in context[key]:
            # an inline script added twice (once with filename None, once with "") is one script
            ident = (getattr(asset, "filename", str(asset)) or "",
                     str(sorted(getattr(asset, "attributes", {}).items())))
            if ident not in seen:
                seen.add(ident)
                kept.append(asset)
        context[key] = kept


#: The theme's icon fonts: file stem, CSS family and weight.
FONTAWESOME = (("fa-solid-900", "Font Awesome 6 Free", 900), ("fa-regular-400", "Font Awesome 6 Free", 400),
               ("fa-brands-400", "Font Awesome 6 Brands", 400))
SUBSET_CSS = "fontawesome-subset.css"
_FA_RULE = re.compile(r'((?:\.fa-[a-z0-9-]+:(?:before|after),?)+)\{content:"\\([0-9a-f]+)"\}')
_PUA = re.compile(r"[\ue000-\uf8ff]|\\([ef][0-9a-f]{3})\b")


def icons_used(static: Path, pages: list[Path]) -> set[int]:
    """The Font Awesome code points the built pages can draw: the classes they (and the theme's
    scripts) name, mapped through the theme's class list, and the code points any stylesheet
    writes outside that list."""
    names, points = set(), set()
    for css in static.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        for selectors, point in _FA_RULE.findall(text):
            for sel in selectors.split(","):
                names.add((sel.split(":")[0][1:], int(point, 16)))
        for m in _PUA.finditer(_FA_RULE.sub("", text)):
            points.add(int(m.group(1), 16) if m.group(1) else ord(m.group(0)))
    used = set()
    for f in pages + [js for js in static.glob("scripts/*.js") if js.name != "fontawesome.js"]:
        used |= set(re.findall(r"fa-[a-z0-9-]+", f.read_text(encoding="utf-8", errors="replace")))
    return points | {point for name, point in names if name in used}


def _subset_fontawesome(app, exc):
    if exc or app.builder.format != "html":
        return
    try:
        from fontTools import subset
    except ImportError:
        return
    out = Path(app.outdir)
    static, fonts = out / "_static", out / "_static" / "vendor" / "fontawesome" / "webfonts"
    if not fonts.is_dir():
        return
    points = icons_used(static, [p for p in out.rglob("*.html") if "_static" not in p.parts])
    target = static / "fontawesome-subset"
    target.mkdir(exist_ok=True)
    faces = []
    for stem, family, weight in FONTAWESOME:
        source = fonts / f"{stem}.ttf"
        if not source.exists():
            continue
        options = subset.Options()
        options.flavor, options.layout_features = "woff", []
        font = subset.load_font(str(source), options)
        sub = subset.Subsetter(options)
        sub.populate(unicodes=points)
        sub.subset(font)
        subset.save_font(font, str(target / f"{stem}.woff"), options)
        faces.append(f'@font-face{{font-display:block;font-family:"{family}";font-style:normal;'
                     f'font-weight:{weight};src:url(fontawesome-subset/{stem}.woff) format("woff")}}')
    (static / SUBSET_CSS).write_text("/* Generated by book/_ext/book_html.py: the icons the book's pages draw. */\n"
                                     + "\n".join(faces) + "\n")


def setup(app):
    # The sidebar and page titles hold math on pages that have none of their own.
    app.set_html_assets_policy("always")
    app.connect("config-inited", _config_inited, priority=900)
    app.connect("html-page-context", _dedupe_page_assets, priority=999)
    app.add_css_file(SUBSET_CSS, priority=900)
    app.connect("build-finished", _subset_fontawesome)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
