"""Sphinx extension: what every HTML page of the book loads, and how wide things may get.

Jupyter Book 1.x adds every ``*.js`` and ``*.css`` under ``_static/`` to every page
(``jupyter_book.config.get_final_config`` globs the static paths, once per entry of
``html_static_path``). ``make book`` copies MathJax's whole es5 tree to
``_static/mathjax`` so that the book renders offline; without this hook each page would
load all ~70 MathJax components (about 20 MB), in any order, and they would fight
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

The theme's empty ``default_mode`` makes its JavaScript log "Got invalid theme mode" on
every page; the book's figures are drawn for a light page, so the default is ``light``.
"""
from __future__ import annotations

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
    override = _macros_without_fontawesome(Path(app.doctreedir).parent / "templates_override")
    if override:
        config.templates_path = [str(override)] + list(config.templates_path)


def _macros_without_fontawesome(folder: Path) -> Path | None:
    try:
        import pydata_sphinx_theme
    except ImportError:
        return None
    source = Path(pydata_sphinx_theme.__file__).parent / "theme/pydata_sphinx_theme/static/webpack-macros.html"
    if not source.exists():
        return None
    lines = source.read_text().splitlines(keepends=True)
    kept = [line for line in lines if "fontawesome.js" not in line]
    if len(kept) == len(lines):
        return None
    target = folder / "static" / "webpack-macros.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(kept)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return folder


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


def setup(app):
    # The sidebar and page titles hold math on pages that have none of their own.
    app.set_html_assets_policy("always")
    app.connect("config-inited", _config_inited, priority=900)
    app.connect("html-page-context", _dedupe_page_assets, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
