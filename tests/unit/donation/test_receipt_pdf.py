"""The donation receipt PDF (``donation.adapters.receipt_pdf``), read back with pdfium: its
text, glyphs really drawn in the CJK font (ink in the characters' boxes, different characters
different shapes), the QR code's modules where segno put them, and the 已作废 watermark."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
import segno
from PIL import Image

from donation.adapters.receipt_pdf import (
    ANONYMOUS_PAYER,
    DEFAULT_FONT_PATH,
    FONT_PACKAGE,
    MAX_LINES,
    QR_SIZE,
    QR_X,
    QR_Y,
    TITLE,
    ReceiptDocument,
    ReceiptLine,
    format_yuan,
    render_receipt_pdf,
)

SCALE = 2  # pixels per PDF point
MM = 72 / 25.4  # PDF points per millimetre

RECEIPT = ReceiptDocument(
    receipt_code="33020124",
    receipt_number="0000012345",
    check_code="8f3A2c",
    issued_on=date(2026, 3, 5),
    payer_name="张晓梅",
    lines=(
        ReceiptLine("BOAI-JY-FH01", "博爱家园（江口街道）", 1_234_567),
        ReceiptLine("RELIEF-QUILT", "救灾棉被", 60_000, unit="条", quantity=5, standard_fen=12_000),
    ),
    verify_url="https://example.org/receipts/verify?code=33020124&number=0000012345&check=8f3A2c",
    issuer_name="宁波市奉化区红十字会",
    issuer_credit_code="12330283MB1234567X",
    remark="感谢您对红十字事业的支持",
    reviewer="李复核",
    payee="王收款",
    supervisor="浙江省财政厅",
)


@dataclasses.dataclass
class Rendered:
    text: str
    textpage: pdfium.PdfTextPage
    image: Image.Image  # greyscale
    page_height: float  # points

    def char_index(self, needle: str) -> int:
        index = self.text.find(needle)
        assert index >= 0, f"{needle!r} not on the page"
        # pdfium's char indices match the offsets in its text (checked, not assumed)
        assert self.textpage.get_text_range(index, len(needle)) == needle
        return index

    def char_crop(self, index: int) -> Image.Image:
        left, bottom, right, top = self.textpage.get_charbox(index)
        box = (
            int(left * SCALE),
            int((self.page_height - top) * SCALE),
            int(right * SCALE) + 1,
            int((self.page_height - bottom) * SCALE) + 1,
        )
        assert box[2] - box[0] > 4, f"char {index} has no width: {box}"
        assert box[3] - box[1] > 4, f"char {index} has no height: {box}"
        return self.image.crop(box)


def render(doc: ReceiptDocument) -> Iterator[Rendered]:
    pdf = pdfium.PdfDocument(render_receipt_pdf(doc, font_path=DEFAULT_FONT_PATH))
    try:
        assert len(pdf) == 1
        page = pdf[0]
        textpage = page.get_textpage()
        image = page.render(scale=SCALE).to_pil().convert("L")
        yield Rendered(textpage.get_text_range(), textpage, image, page.get_height())
    finally:
        pdf.close()


@pytest.fixture(scope="module")
def receipt() -> Iterator[Rendered]:
    yield from render(RECEIPT)


@pytest.fixture(scope="module")
def voided() -> Iterator[Rendered]:
    yield from render(dataclasses.replace(RECEIPT, voided=True))


def dark(pixel: int) -> bool:
    return pixel < 128


def ink(crop: Image.Image) -> float:
    """The share of a crop's pixels that are not paper."""
    pixels = crop.tobytes()  # one byte a pixel: the image is greyscale
    return sum(1 for p in pixels if p < 200) / len(pixels)


def test_the_page_says_what_the_receipt_is(receipt: Rendered) -> None:
    text = receipt.text
    for expected in (
        TITLE,
        "电子票据",
        "张晓梅",
        "博爱家园（江口街道）",
        "救灾棉被",
        "壹万贰仟玖佰肆拾伍元陆角柒分",  # 12,345.67 + 600.00
        "¥12,945.67",
        "0000012345",
        "33020124",
        "8f3A2c",
        "2026年03月05日",
        "宁波市奉化区红十字会",
        "12330283MB1234567X",
        "李复核",
        "王收款",
        "感谢您对红十字事业的支持",
    ):
        assert expected in text, expected
    assert "已作废" not in text


def test_the_title_is_drawn_in_ink(receipt: Rendered) -> None:
    start = receipt.char_index(TITLE)
    for offset in range(len(TITLE)):
        share = ink(receipt.char_crop(start + offset))
        assert share > 0.08, f"{TITLE[offset]} has almost no ink ({share:.3f})"


def glyph_bits(crop: Image.Image) -> list[bool]:
    return [dark(p) for p in crop.resize((24, 24)).tobytes()]


def test_different_characters_have_different_shapes(receipt: Rendered) -> None:
    """Tofu (a missing glyph's box) looks the same for every character; real glyphs do not."""
    start = receipt.char_index(TITLE)
    gong, yi = (glyph_bits(receipt.char_crop(start + i)) for i in (0, 1))  # 公, 益
    differing = sum(a != b for a, b in zip(gong, yi, strict=True))
    assert differing > 0.15 * len(gong)
    # and the same character twice (票 of 票据 in the title and in 票据代码) looks the same
    piao_title = glyph_bits(receipt.char_crop(start + TITLE.index("票")))
    piao_code = glyph_bits(receipt.char_crop(receipt.char_index("票据代码")))
    assert sum(a != b for a, b in zip(piao_title, piao_code, strict=True)) < differing


def test_the_qr_code_is_drawn_module_for_module(receipt: Rendered) -> None:
    matrix = [list(row) for row in segno.make(RECEIPT.verify_url, error="m").matrix]
    modules = len(matrix)
    step = QR_SIZE * MM * SCALE / modules
    x0, y0 = QR_X * MM * SCALE, QR_Y * MM * SCALE
    wrong = [
        (r, c)
        for r in range(modules)
        for c in range(modules)
        if dark(receipt.image.getpixel((int(x0 + (c + 0.5) * step), int(y0 + (r + 0.5) * step))))  # type: ignore[arg-type]
        != bool(matrix[r][c])
    ]
    assert not wrong, f"{len(wrong)} of {modules * modules} modules differ, e.g. {wrong[:5]}"
    # a QR-sized square: the finder pattern's dark 3×3 centre, top left
    centre = receipt.image.crop(
        (int(x0 + 2 * step) + 1, int(y0 + 2 * step) + 1, int(x0 + 5 * step), int(y0 + 5 * step))
    )
    assert ink(centre) > 0.95


def test_a_voided_receipt_says_so(voided: Rendered, receipt: Rendered) -> None:
    assert "已作废" in voided.text
    assert TITLE in voided.text
    start = voided.char_index("已作废")
    assert all(ink(voided.char_crop(start + i)) > 0.02 for i in range(3))
    # the watermark is drawn over the page: the voided page has clearly more ink
    assert ink(voided.image) > ink(receipt.image) + 0.01


def test_an_anonymous_payer_is_a_caring_person() -> None:
    anonymous = dataclasses.replace(RECEIPT, payer_name="")
    assert anonymous.payer_shown == ANONYMOUS_PAYER
    (page,) = render(anonymous)
    assert f"交款人：{ANONYMOUS_PAYER}" in page.text


def test_rendering_is_deterministic() -> None:
    assert render_receipt_pdf(RECEIPT, font_path=DEFAULT_FONT_PATH) == render_receipt_pdf(
        RECEIPT, font_path=DEFAULT_FONT_PATH
    )


def test_the_font_is_embedded_as_a_subset() -> None:
    data = render_receipt_pdf(RECEIPT, font_path=DEFAULT_FONT_PATH)
    assert b"/FontFile2" in data
    assert len(data) < DEFAULT_FONT_PATH.stat().st_size // 20  # not the 5 MB collection


def test_a_missing_font_names_the_path_and_the_package(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-font.ttc"
    with pytest.raises(FileNotFoundError) as caught:
        render_receipt_pdf(RECEIPT, font_path=missing)
    assert str(missing) in str(caught.value)
    assert FONT_PACKAGE in str(caught.value)


@pytest.mark.parametrize(
    ("fen", "shown"),
    [
        (0, "¥0.00"),
        (5, "¥0.05"),
        (100, "¥1.00"),
        (123_456, "¥1,234.56"),
        (10**11, "¥1,000,000,000.00"),
    ],
)
def test_yuan_from_integer_fen(fen: int, shown: str) -> None:
    assert format_yuan(fen) == shown


def test_yuan_refuses_floats() -> None:
    with pytest.raises(TypeError):
        format_yuan(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"receipt_code": "3302012"},
        {"receipt_number": "00000123456"},
        {"check_code": "8f3A2"},
        {"lines": ()},
        {"lines": (RECEIPT.lines[0],) * (MAX_LINES + 1)},
        {"issuer_credit_code": "12330283MB123456"},
        {"payer_credit_code": "91330283MA2ABCDEFO"},  # O is not in the alphabet
    ],
)
def test_a_malformed_receipt_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"票据|校验码|line|信用代码"):
        dataclasses.replace(RECEIPT, **change)  # type: ignore[arg-type]


def test_a_line_amount_is_integer_fen() -> None:
    with pytest.raises(TypeError):
        ReceiptLine("X", "项目", 12.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        ReceiptLine("X", "项目", -1)


def test_a_long_project_name_stays_in_its_cell() -> None:
    name = "博爱家园" * 30
    doc = dataclasses.replace(RECEIPT, lines=(ReceiptLine("LONG", name, 100),))
    (page,) = render(doc)
    assert "博爱家园博爱家园" in page.text
    assert name not in page.text  # cut with …
    assert "…" in page.text
