"""Render a PDF's pages to PNG with pdftoppm and check they carry ink (not blank)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from PIL import Image


def pdf_pages_as_images(content: bytes, *, dpi: int = 40) -> list[Image.Image]:
    assert content.startswith(b"%PDF"), "not a PDF"
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "doc.pdf"
        source.write_bytes(content)
        subprocess.run(
            ["pdftoppm", "-png", "-r", str(dpi), str(source), str(Path(folder) / "page")], check=True
        )
        return [Image.open(path).convert("L").copy() for path in sorted(Path(folder).glob("page*.png"))]


def ink_fraction(image: Image.Image) -> float:
    """Share of pixels darker than light grey: ~0 for a blank page, a few percent for a text page."""
    histogram = image.histogram()
    dark = sum(histogram[:200])
    return dark / (image.width * image.height)


def assert_pdf_has_content(content: bytes, *, min_pages: int = 1) -> list[Image.Image]:
    pages = pdf_pages_as_images(content)
    assert len(pages) >= min_pages, f"expected at least {min_pages} page(s), got {len(pages)}"
    for number, page in enumerate(pages, start=1):
        assert ink_fraction(page) > 0.002, f"page {number} is blank"
    return pages


def pdf_text(content: bytes) -> str:
    """The PDF's text (pdftotext), whitespace collapsed to single spaces."""
    done = subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True, check=True)
    return " ".join(done.stdout.decode().split())
