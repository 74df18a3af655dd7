"""The electronic donation receipt (公益事业捐赠电子票据) as a one-page PDF.

A ``ReceiptDocument`` holds what 《公益事业捐赠票据使用管理办法》 (财综〔2024〕1号) Art. 6 lists
as a receipt's basic content: 票据名称, 票据监制章, 票据代码, 票据号码, 交款人统一社会信用代码,
交款人, 校验码, 开票日期, 二维码, the lines (项目编码, 项目名称, 单位, 数量, 标准, 金额（元）),
金额合计 in capitals and in figures, 备注, 其他信息, 收款单位（章）, 复核人 and 收款人.

``render_receipt_pdf`` lays it out on one A5-landscape page in the manner of a 财政电子票据:
the QR code (the ``verify_url``, drawn as vector squares from segno's matrix) top left, the
title and "电子票据" in the middle, the code, number, check code and date top right, the
payer, the table of lines, the totals, the remarks and the issuer, reviewer and payee at the
foot; a voided receipt carries an "已作废" watermark and status. Text is set in WenQuanYi
Micro Hei (Debian ``fonts-wqy-microhei``), embedded as a subset by fpdf2. Amounts are integer
fen throughout, never floats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

import segno
from fpdf import FPDF

from donation.domain.chinese_amount import amount_in_words

DEFAULT_FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT_PACKAGE = "fonts-wqy-microhei"
TITLE = "公益事业捐赠票据"
ANONYMOUS_PAYER = "爱心人士"
MAX_LINES = 8  # what fits the one page; a receipt of more lines is refused

# The page and where the QR code sits on it (millimetres from the top-left corner).
PAGE_W, PAGE_H = 210.0, 148.0  # A5 landscape
MARGIN = 8.0
QR_X, QR_Y, QR_SIZE = 10.0, 8.0, 24.0

_FONT = "wqy"
_INK = (0, 0, 0)
_RED = (170, 30, 30)
_CHINA_TZ = timezone(timedelta(hours=8))
_CREDIT_CODE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")  # GB 32100: no I, O, S, V, Z


def format_yuan(fen: int) -> str:
    """Integer fen as yuan for the figures column: 123456 → "¥1,234.56"."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"format_yuan takes integer fen, not {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(fen), 100)
    return f"{sign}¥{yuan:,}.{rest:02d}"


@dataclass(frozen=True)
class ReceiptLine:
    """One 项目 line: 项目编码, 项目名称, 金额 and, where they apply, 单位, 数量, 标准 (unit
    price in fen) and a note for the line's 备注 column."""

    project_code: str
    project_name: str
    amount_fen: int
    unit: str = ""
    quantity: int | None = None
    standard_fen: int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if not self.project_code or not self.project_name:
            raise ValueError("a receipt line needs a project code and a project name")
        _check_fen("amount_fen", self.amount_fen)
        if self.standard_fen is not None:
            _check_fen("standard_fen", self.standard_fen)
        if self.quantity is not None and (
            isinstance(self.quantity, bool) or not isinstance(self.quantity, int)
        ):
            raise TypeError("quantity must be an int")


@dataclass(frozen=True)
class ReceiptDocument:
    """What the receipt shows (财综〔2024〕1号 Art. 6). ``payer_name`` is "爱心人士" (see
    ``ANONYMOUS_PAYER``) for an anonymous gift; an empty name is shown so too."""

    receipt_code: str  # 票据代码, 8 digits
    receipt_number: str  # 票据号码, 10 digits
    check_code: str  # 校验码, 6 characters
    issued_on: date  # 开票日期
    payer_name: str  # 交款人
    lines: tuple[ReceiptLine, ...]  # 项目
    verify_url: str  # 二维码: where the receipt is checked
    issuer_name: str  # 收款单位（章）, e.g. 宁波市奉化区红十字会
    issuer_credit_code: str  # 收款单位统一社会信用代码
    payer_credit_code: str | None = None  # 交款人统一社会信用代码 (organisations)
    remark: str = ""  # 备注
    other_info: str = ""  # 其他信息
    reviewer: str = ""  # 复核人
    payee: str = ""  # 收款人
    supervisor: str = ""  # 票据监制章: the finance department, e.g. 浙江省财政厅
    voided: bool = False  # 已作废
    title: str = field(default=TITLE)  # 票据名称

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9]{8}", self.receipt_code):
            raise ValueError(f"票据代码 must be 8 digits: {self.receipt_code!r}")
        if not re.fullmatch(r"[0-9]{10}", self.receipt_number):
            raise ValueError(f"票据号码 must be 10 digits: {self.receipt_number!r}")
        if not re.fullmatch(r"[0-9A-Za-z]{6}", self.check_code):
            raise ValueError(f"校验码 must be 6 letters or digits: {self.check_code!r}")
        if not self.lines:
            raise ValueError("a receipt needs at least one line")
        if len(self.lines) > MAX_LINES:
            raise ValueError(f"a receipt holds at most {MAX_LINES} lines, not {len(self.lines)}")
        if not self.verify_url:
            raise ValueError("a receipt needs the URL its QR code points to")
        if not self.issuer_name:
            raise ValueError("a receipt needs the issuer's name")
        for label, code in (
            ("收款单位统一社会信用代码", self.issuer_credit_code),
            ("交款人统一社会信用代码", self.payer_credit_code),
        ):
            if code is not None and not _CREDIT_CODE.fullmatch(code):
                raise ValueError(f"{label} must be 18 characters of GB 32100: {code!r}")

    @property
    def payer_shown(self) -> str:
        return self.payer_name.strip() or ANONYMOUS_PAYER

    @property
    def total_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    @property
    def total_in_words(self) -> str:
        return amount_in_words(self.total_fen)


def _check_fen(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be integer fen, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} cannot be negative: {value}")


def render_receipt_pdf(doc: ReceiptDocument, *, font_path: Path = DEFAULT_FONT_PATH) -> bytes:
    """The receipt as the bytes of a one-page PDF (A5 landscape).

    Raises ``FileNotFoundError`` naming ``font_path`` and the Debian package when the font is
    not there. The output is the same bytes for the same document (the PDF's dates are the
    issue date, not the time of rendering).
    """
    font_path = Path(font_path)
    if not font_path.is_file():
        raise FileNotFoundError(
            f"the receipt font {font_path} is missing: install the Debian package "
            f"{FONT_PACKAGE} (apt-get install {FONT_PACKAGE})"
        )
    pdf = FPDF(orientation="L", unit="mm", format=(PAGE_H, PAGE_W))
    pdf.set_compression(True)
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.add_font(_FONT, "", str(font_path), collection_font_number=0)
    stamp = datetime(doc.issued_on.year, doc.issued_on.month, doc.issued_on.day, tzinfo=_CHINA_TZ)
    pdf.set_creation_date(stamp)
    pdf.set_title(f"{doc.title} {doc.receipt_code}-{doc.receipt_number}")
    pdf.set_subject(doc.title)
    pdf.set_author(doc.issuer_name)
    pdf.set_creator("Sunshine")
    pdf.set_lang("zh-CN")
    pdf.add_page()

    _draw_qr(pdf, doc.verify_url)
    _draw_heading(pdf, doc)
    y = _draw_payer(pdf, doc, 38.0)
    y = _draw_table(pdf, doc, y + 2.0)
    _draw_footer(pdf, doc, y + 4.0)
    if doc.voided:
        _draw_void_mark(pdf)
    return bytes(pdf.output())


def _font(pdf: FPDF, size: float, color: tuple[int, int, int] = _INK) -> None:
    pdf.set_font(_FONT, "", size)
    pdf.set_text_color(*color)


def _fit(pdf: FPDF, text: str, width: float, size: float, *, smallest: float = 5.0) -> str:
    """Sets the largest font size up to ``size`` at which ``text`` fits ``width``; cuts it
    with "…" if even ``smallest`` is too big."""
    room = width - 2 * pdf.c_margin
    current = size
    while current > smallest:
        _font_size_only(pdf, current)
        if pdf.get_string_width(text) <= room:
            return text
        current -= 0.5
    _font_size_only(pdf, smallest)
    while text and pdf.get_string_width(text + "…") > room:
        text = text[:-1]
    return text + "…" if text else text


def _font_size_only(pdf: FPDF, size: float) -> None:
    pdf.set_font(_FONT, "", size)


def _cell(
    pdf: FPDF,
    x: float,
    y: float,
    w: float,
    h: float,
    text: str,
    *,
    size: float = 9.0,
    align: str = "L",
    border: Literal[0, 1] = 1,
    color: tuple[int, int, int] = _INK,
) -> None:
    pdf.set_text_color(*color)
    shown = _fit(pdf, text, w, size)
    pdf.set_xy(x, y)
    pdf.cell(w, h, shown, border=border, align=align)


def _draw_qr(pdf: FPDF, url: str) -> None:
    qr = segno.make(url, error="m")
    matrix = [list(row) for row in qr.matrix]
    modules = len(matrix)
    step = QR_SIZE / modules
    pdf.set_fill_color(*_INK)
    for r, row in enumerate(matrix):
        c = 0
        while c < modules:
            if row[c]:
                start = c
                while c < modules and row[c]:
                    c += 1
                # one rectangle per run of dark modules, a hair taller/wider to leave no seams
                pdf.rect(
                    QR_X + start * step,
                    QR_Y + r * step,
                    (c - start) * step + 0.01,
                    step + 0.01,
                    style="F",
                )
            else:
                c += 1
    _font(pdf, 6.5)
    pdf.set_xy(QR_X, QR_Y + QR_SIZE + 0.5)
    pdf.cell(QR_SIZE, 3.0, "扫码查验真伪", align="C")


def _draw_heading(pdf: FPDF, doc: ReceiptDocument) -> None:
    _font(pdf, 18, _RED)
    pdf.set_xy(0, 10.0)
    pdf.cell(PAGE_W, 10.0, doc.title, align="C")
    _font(pdf, 10, _RED)
    pdf.set_xy(0, 20.0)
    pdf.cell(PAGE_W, 6.0, "电子票据（已作废）" if doc.voided else "电子票据", align="C")
    pdf.set_draw_color(*_RED)
    pdf.set_line_width(0.3)
    pdf.line(72.0, 27.0, PAGE_W - 72.0, 27.0)
    pdf.line(72.0, 27.8, PAGE_W - 72.0, 27.8)
    if doc.supervisor:
        # 票据监制章: an oval with the finance department's name
        pdf.set_line_width(0.4)
        pdf.ellipse(42.0, 9.0, 26.0, 16.0, style="D")
        _font(pdf, 6.0, _RED)
        pdf.set_xy(42.0, 12.0)
        pdf.cell(26.0, 4.0, _fit(pdf, doc.supervisor, 26.0, 6.0), align="C")
        _font(pdf, 5.5, _RED)
        pdf.set_xy(42.0, 17.0)
        pdf.cell(26.0, 4.0, "财政票据监制章", align="C")
    x, w = 146.0, PAGE_W - MARGIN - 146.0
    rows = (
        ("票据代码", doc.receipt_code),
        ("票据号码", doc.receipt_number),
        ("校验码", doc.check_code),
        ("开票日期", f"{doc.issued_on.year}年{doc.issued_on.month:02d}月{doc.issued_on.day:02d}日"),
    )
    for i, (label, value) in enumerate(rows):
        _cell(pdf, x, 9.0 + i * 5.5, w, 5.5, f"{label}：{value}", size=8.5, border=0)
    pdf.set_draw_color(*_INK)
    pdf.set_line_width(0.2)


def _draw_payer(pdf: FPDF, doc: ReceiptDocument, y: float) -> float:
    half = (PAGE_W - 2 * MARGIN) / 2
    code = doc.payer_credit_code or ""
    _cell(pdf, MARGIN, y, half, 6.0, f"交款人统一社会信用代码：{code}", size=9, border=0)
    _cell(pdf, MARGIN + half, y, half, 6.0, f"交款人：{doc.payer_shown}", size=9, border=0)
    return y + 6.0


# the table's columns: heading, width (mm), alignment
_COLUMNS = (
    ("项目编码", 28.0, "C"),
    ("项目名称", 56.0, "L"),
    ("单位", 14.0, "C"),
    ("数量", 16.0, "R"),
    ("标准", 26.0, "R"),
    ("金额（元）", 28.0, "R"),
    ("备注", 26.0, "L"),
)
_ROW_H = 6.5
_MIN_ROWS = 4


def _draw_table(pdf: FPDF, doc: ReceiptDocument, y: float) -> float:
    pdf.set_draw_color(*_RED)
    pdf.set_line_width(0.25)
    x = MARGIN
    for heading, width, _ in _COLUMNS:
        _cell(pdf, x, y, width, _ROW_H, heading, size=9, align="C", color=_RED)
        x += width
    y += _ROW_H
    for i in range(max(len(doc.lines), _MIN_ROWS)):
        line = doc.lines[i] if i < len(doc.lines) else None
        values = (
            (
                line.project_code,
                line.project_name,
                line.unit,
                "" if line.quantity is None else f"{line.quantity:,}",
                "" if line.standard_fen is None else format_yuan(line.standard_fen)[1:],
                format_yuan(line.amount_fen)[1:],
                line.note,
            )
            if line
            else ("",) * len(_COLUMNS)
        )
        x = MARGIN
        for (_, width, align), value in zip(_COLUMNS, values, strict=True):
            _cell(pdf, x, y, width, _ROW_H, value, size=8.5, align=align)
            x += width
        y += _ROW_H
    full = PAGE_W - 2 * MARGIN
    label_w = _COLUMNS[0][1]
    figures_label_w, figures_w = 20.0, 40.0
    words_w = full - label_w - figures_label_w - figures_w
    _cell(pdf, MARGIN, y, label_w, _ROW_H, "金额合计（大写）", size=8.5, align="C", color=_RED)
    _cell(pdf, MARGIN + label_w, y, words_w, _ROW_H, f"人民币{doc.total_in_words}", size=9)
    x = MARGIN + label_w + words_w
    _cell(pdf, x, y, figures_label_w, _ROW_H, "（小写）", size=8.5, align="C", color=_RED)
    _cell(pdf, x + figures_label_w, y, figures_w, _ROW_H, format_yuan(doc.total_fen), size=9)
    y += _ROW_H
    remark_h = 12.0
    _cell(pdf, MARGIN, y, label_w, remark_h, "备注", size=9, align="C", color=_RED)
    pdf.rect(MARGIN + label_w, y, full - label_w, remark_h)
    _font(pdf, 8.5)
    pdf.set_xy(MARGIN + label_w, y + 0.8)
    pdf.multi_cell(full - label_w, 4.2, doc.remark, border=0, align="L", max_line_height=4.2)
    y += remark_h
    if doc.other_info:
        _cell(pdf, MARGIN, y, label_w, _ROW_H, "其他信息", size=9, align="C", color=_RED)
        _cell(pdf, MARGIN + label_w, y, full - label_w, _ROW_H, doc.other_info, size=8.5)
        y += _ROW_H
    pdf.set_draw_color(*_INK)
    pdf.set_line_width(0.2)
    return y


def _draw_footer(pdf: FPDF, doc: ReceiptDocument, y: float) -> None:
    _cell(pdf, MARGIN, y, 110.0, 5.5, f"收款单位（章）：{doc.issuer_name}", size=9, border=0)
    _cell(
        pdf,
        MARGIN,
        y + 5.5,
        110.0,
        5.0,
        f"统一社会信用代码：{doc.issuer_credit_code}",
        size=8,
        border=0,
    )
    _cell(pdf, 124.0, y, 38.0, 5.5, f"复核人：{doc.reviewer}", size=9, border=0)
    _cell(pdf, 164.0, y, 38.0, 5.5, f"收款人：{doc.payee}", size=9, border=0)


def _draw_void_mark(pdf: FPDF) -> None:
    """The "已作废" watermark across the page, red and half transparent."""
    with pdf.local_context(fill_opacity=0.35, text_color=_RED):
        pdf.set_font(_FONT, "", 64)
        text = "已作废"
        width = pdf.get_string_width(text)
        cx, cy = PAGE_W / 2, PAGE_H / 2 + 8.0
        with pdf.rotation(20, x=cx, y=cy):
            pdf.text(cx - width / 2, cy + 8.0, text)
