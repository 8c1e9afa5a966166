"""Every stored figure is numbered, captioned, described and legible at the page's width.

A figure is an ``image/png`` output. Its cell's metadata carries ``mystnb.figure.caption`` (the
page numbers it, per chapter), ``mystnb.figure.name`` (a label to cite it by) and
``mystnb.image.alt`` (what a screen reader says); a cell makes one figure. The PNG is at least
``plots.DPI`` dots per inch and at most ``plots.MAX_WIDTH`` inches wide (plus the tight bounding
box's margin), so the page shows it at most 1:1 and its fonts stay above 9 pt.
"""
import base64
import json
import struct
from pathlib import Path

import pytest

from mixupbook import plots

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("notebooks/*/[0-9]*.ipynb"))


def png_size_and_dpi(data: bytes) -> tuple[int, int, float | None]:
    """(width px, height px, dots per inch from the pHYs chunk or None)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    pos, dpi = 8, None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"pHYs":
            per_metre, _, unit = struct.unpack(">IIB", data[pos + 8:pos + 17])
            dpi = per_metre * 0.0254 if unit == 1 else None
        if kind == b"IDAT":
            break
        pos += 12 + length
    return width, height, dpi


def figures(nb: Path):
    for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
        images = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if images:
            yield i, cell, images


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_each_figure_is_captioned_and_legible(nb):
    problems = []
    for i, cell, images in figures(nb):
        meta = cell["metadata"].get("mystnb", {})
        fig, img = meta.get("figure", {}), meta.get("image", {})
        if any(o["output_type"] == "execute_result" for o in cell["outputs"]):
            problems.append(f"cell {i}: a value beside the figure (end the cell with plt.show())")
        if len(images) != 1:
            problems.append(f"cell {i}: {len(images)} figures in one cell (one caption and label each)")
        if not str(fig.get("caption", "")).strip() or not fig.get("name"):
            problems.append(f"cell {i}: no mystnb.figure caption and name")
        if len(str(img.get("alt", "")).strip()) < 20:
            problems.append(f"cell {i}: no mystnb.image.alt describing the figure")
        for data in images:
            w, _, dpi = png_size_and_dpi(base64.b64decode(data))
            if dpi is None or dpi < plots.DPI - 1:
                problems.append(f"cell {i}: {dpi} dpi, want {plots.DPI}")
            elif w / dpi > plots.MAX_WIDTH + 0.6:
                problems.append(f"cell {i}: {w / dpi:.1f} in wide, the page shrinks it (at most {plots.MAX_WIDTH})")
    assert not problems, "\n".join(problems)


def test_png_reader_on_a_figure_we_make(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(2, 1), dpi=plots.DPI)
    fig.savefig(tmp_path / "f.png", dpi=plots.DPI)
    w, h, dpi = png_size_and_dpi((tmp_path / "f.png").read_bytes())
    assert (w, h) == (300, 150) and abs(dpi - plots.DPI) < 1
