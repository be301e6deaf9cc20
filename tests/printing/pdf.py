"""Reading printed PDFs back with Debian's poppler-utils and zbar-tools, as a person's tools would."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path


def _run(*args: str, data: bytes | None = None) -> str:
    tool = shutil.which(args[0])
    assert tool, f"{args[0]} is missing: apt-get install poppler-utils zbar-tools"
    return subprocess.run([tool, *args[1:]], input=data, capture_output=True, check=True).stdout.decode()


def text(pdf: bytes, page: int | None = None) -> str:
    """pdftotext of the whole PDF or one page (CJK comes out without spaces between characters)."""
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return _run("pdftotext", "-layout", *pages, "-", "-", data=pdf)


def page_texts(pdf: bytes) -> list[str]:
    return text(pdf).split("\f")[:-1]


def fonts(path: Path) -> list[dict]:
    """pdffonts rows: name, type, embedded (yes/no), subset (yes/no)."""
    lines = _run("pdffonts", str(path)).splitlines()[2:]
    found = []
    for line in lines:
        parts = line.split()
        # name, type (one or more words), encoding, emb, sub, uni, object, id
        found.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4]})
    return found


def page_count(path: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(path)), re.M).group(1))


def first_page_png(path: Path, target: Path, dpi: int = 110) -> Path:
    """The first page as a PNG (pdftoppm), at `target` (without extension)."""
    _run("pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", str(path), str(target))
    return target.with_suffix(".png")


def qr_codes(png: Path) -> list[str]:
    out = _run("zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(png))
    return [line for line in out.splitlines() if line.strip()]
