"""The HTML report page in a real browser: headless Chromium renders every chart, and the screenshot is not blank.

Skips when Chromium is not installed (CI installs it). The PNG is decoded by hand (zlib and the five
PNG row filters) so the test needs no imaging library. Chromium gets no network (a dead proxy):
the page must render from the file alone.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from kpi_cli.summary.html import page
from tests.test_report_html import benchmark, charts, make_report, make_row, parse, tree_result

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ACCENT = (0x2F, 0x5F, 0x8F)  # --accent in light mode (kpi_cli/summary/style.py)
DARK_BG = (0x11, 0x14, 0x18)  # --bg in dark mode


def report_rows() -> list:
    """A report with every kind of card: incomplete last period, gap, band, null value, survey metric."""
    return [
        make_row("mrr", "MRR", values=[100_000 * 1.03**k for k in range(24)], last_complete=False, change=0.031),
        make_row("customer_churn_rate", "Customer churn", unit="ratio",
                 values=[0.02 + 0.001 * (k % 5) for k in range(24)], benchmark=benchmark(0.024)),
        make_row("cac", "CAC", "acquisition", values=[500.0 + k if k % 7 else None for k in range(23)] + [510.0]),
        make_row("signups", "Signups", "acquisition", "count", values=[float(40 + k % 6) for k in range(24)]),
        make_row("dau_mau", "DAU/MAU", "engagement", "ratio", values=[0.3] * 24),
        make_row("nps", "NPS", "satisfaction", "score", values=[30 + k * 0.5 for k in range(24)], n=112.0, moe=8.4),
    ]


def chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on ``url`` with its own profile and no route to any network."""
    assert CHROMIUM is not None
    cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--window-size=1200,900", "--virtual-time-budget=5000", "--proxy-server=127.0.0.1:9",
           f"--user-data-dir={tmp_path / 'profile'}", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def page_url(tmp_path: Path) -> str:
    if CHROMIUM is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    path = tmp_path / "report.html"
    path.write_text(page(make_report(*report_rows()), tree_result()), encoding="utf-8")
    return path.as_uri()


def png_pixels(data: bytes) -> list[tuple[int, ...]]:
    """The pixels of an 8-bit, non-interlaced RGB or RGBA PNG, decoded with zlib and the PNG filters."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0), (depth, interlace)
    assert colour in (2, 6), colour
    bpp = 4 if colour == 6 else 3
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    pixels: list[tuple[int, ...]] = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        else:
            assert kind == 0, kind
        pixels.extend(tuple(line[i:i + 3]) for i in range(0, stride, bpp))
        prev = line
    return pixels


def test_png_decoder_on_a_known_image() -> None:
    # A 2×2 RGB image, row 1 with Sub, row 2 with Paeth: pixels worked out by hand.
    rows = bytes([1, 10, 20, 30, 5, 5, 5]) + bytes([4, 1, 1, 1, 0, 0, 0])
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    # Row 1: (10,20,30), (15,25,35). Row 2 pixel 1: Paeth(a=0, b=10, c=0) = b → (11,21,31);
    # pixel 2: a=(11,21,31), b=(15,25,35), c=(10,20,30): p = a+b−c = (16,26,36) is nearest b → (15,25,35).
    assert png_pixels(png) == [(10, 20, 30), (15, 25, 35), (11, 21, 31), (15, 25, 35)]


def test_chromium_renders_every_chart(page_url: str, tmp_path: Path) -> None:
    done = chromium(tmp_path, page_url, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    tree = parse(done.stdout)
    trends = charts(tree)
    assert list(trends) == [r.metric for r in report_rows()]
    for metric, elements in trends.items():
        assert "polyline" in [t for t, _ in elements], metric
    assert [t for t, _ in trends["mrr"]].count("circle") == 24
    # The gaps: CAC is None at k = 0, 7, 14, 21 of 24 points.
    assert [t for t, _ in trends["cac"]].count("circle") == 20
    scatter = charts(tree, "scatter")
    assert [t for t, _ in scatter["logins_per_user"]].count("circle") == 12


def test_chromium_screenshot_is_not_blank(page_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    done = chromium(tmp_path, page_url, f"--screenshot={out}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.exists()
    pixels = png_pixels(out.read_bytes())
    assert len(pixels) == 1200 * 900
    colours = Counter(pixels)
    assert len(colours) >= 20
    _, count = colours.most_common(1)[0]
    assert count < 0.95 * len(pixels)  # cards, text and charts cover more than 5% of the first screen
    assert colours[ACCENT] > 50  # the charts' points and lines are painted in the CSS accent colour


def test_chromium_dark_mode(page_url: str, tmp_path: Path) -> None:
    out = tmp_path / "dark.png"
    done = chromium(tmp_path, page_url, "--force-dark-mode", f"--screenshot={out}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.exists()
    background, _ = Counter(png_pixels(out.read_bytes())).most_common(1)[0]
    assert background == DARK_BG


def test_page_date_is_not_in_the_page() -> None:
    # No timestamp: the page for a report holds no date but the report's own periods.
    html = page(make_report(*report_rows()))
    assert date.today().isoformat() not in html
