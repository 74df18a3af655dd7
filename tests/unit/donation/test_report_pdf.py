"""The reports as PDF (``donation.adapters.report_pdf``), read back with pdfium: the Chinese
text and the amounts on the pages, glyphs really drawn (ink in the title's characters, and
different characters different shapes), page numbers "第 n 页 / 共 N 页", the generation time
in Asia/Shanghai, and a 60-project table running over pages with its header repeated."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
from PIL import Image

from donation.adapters.receipt_pdf import DEFAULT_FONT_PATH, FONT_PACKAGE
from donation.adapters.report_pdf import annual_pdf, evaluation_pdf
from tests.unit.donation.report_samples import (
    ANNUAL_REPORT,
    EMPTY_ANNUAL_REPORT,
    EMPTY_EVALUATION_REPORT,
    EVALUATION_REPORT,
    many_projects,
)

SCALE = 2  # pixels per PDF point
A4_POINTS = (595.28, 841.89)
GENERATED = "生成时间：2026-01-05 18:30（北京时间）"  # 10:30 UTC


@dataclasses.dataclass
class Page:
    text: str  # lines joined with "\n"
    textpage: pdfium.PdfTextPage
    image: Image.Image  # greyscale
    height: float  # points

    def char_crop(self, index: int) -> Image.Image:
        left, bottom, right, top = self.textpage.get_charbox(index)
        box = (
            int(left * SCALE),
            int((self.height - top) * SCALE),
            int(right * SCALE) + 1,
            int((self.height - bottom) * SCALE) + 1,
        )
        assert box[2] - box[0] > 4, f"char {index} has no width: {box}"
        assert box[3] - box[1] > 4, f"char {index} has no height: {box}"
        return self.image.crop(box)

    def char_index(self, needle: str) -> int:
        raw = self.textpage.get_text_range()
        index = raw.find(needle)
        assert index >= 0, f"{needle!r} not on the page"
        assert self.textpage.get_text_range(index, len(needle)) == needle
        return int(index)


@contextlib.contextmanager
def pages_of(data: bytes) -> Iterator[list[Page]]:
    """The PDF's pages, read while the document is open."""
    pdf = pdfium.PdfDocument(data)
    try:
        pages = []
        for page in pdf:
            assert page.get_size() == pytest.approx(A4_POINTS, abs=0.5)
            textpage = page.get_textpage()
            text = textpage.get_text_range().replace("\r\n", "\n")
            image = page.render(scale=SCALE).to_pil().convert("L")
            pages.append(Page(text, textpage, image, page.get_height()))
        yield pages
    finally:
        pdf.close()


def lines(pages: list[Page]) -> list[str]:
    return [line for page in pages for line in page.text.split("\n")]


@pytest.fixture(scope="module")
def evaluation() -> Iterator[list[Page]]:
    with pages_of(evaluation_pdf(EVALUATION_REPORT, font_path=DEFAULT_FONT_PATH)) as pages:
        yield pages


@pytest.fixture(scope="module")
def annual() -> Iterator[list[Page]]:
    with pages_of(annual_pdf(ANNUAL_REPORT, font_path=DEFAULT_FONT_PATH)) as pages:
        yield pages


@pytest.fixture(scope="module")
def sixty() -> Iterator[list[Page]]:
    with pages_of(annual_pdf(many_projects(60), font_path=DEFAULT_FONT_PATH)) as pages:
        yield pages


def ink(crop: Image.Image) -> float:
    pixels = crop.tobytes()
    return sum(1 for p in pixels if p < 200) / len(pixels)


def glyph_bits(crop: Image.Image) -> list[bool]:
    return [p < 128 for p in crop.resize((24, 24)).tobytes()]


def assert_page_numbers(pages: list[Page]) -> None:
    total = len(pages)
    for n, page in enumerate(pages, start=1):
        assert f"第 {n} 页 / 共 {total} 页" in page.text, page.text[-80:]
        assert GENERATED in page.text
        assert len(re.findall(r"第 \d+ 页 / 共 \d+ 页", page.text)) == 1


def test_the_evaluation_report_says_what_it_is(evaluation: list[Page]) -> None:
    text = "\n".join(lines(evaluation))
    every_line = lines(evaluation)
    assert every_line[0] == "奉化区红十字会 项目绩效评价报告"
    for expected in (
        "博爱家园（江口街道）（BOAI-JK01）",
        "评价期间：2025-01-01 至 2025-12-31",
        "项目类别 博爱家园",
        "执行机构 江口街道红十字会（JK）",
        "关联灾害事件 TY-2025-14 台风“海葵”（重大）",
        "项目预算 ¥200,000.00",
        "募集金额 ¥234,567.89",
        "使用金额 ¥150,000.50",
        "预算执行率 75.0%",  # 15,000,050 / 20,000,000
        "捐赠到使用天数 P50 12.5 天",
        "捐赠到使用天数 P90 40.6 天",
        "受助人数 1,287 人",
        "受助户数 412 户",
        "发放物资价值 ¥12,345.56",
        "10 / 2 / 5 / 2 / 1",
        "按期回访率 62.5%",
        "平均满意度（1–5 分） 4.50（6 次评分）",
        "公示（应公示 / 按期 / 逾期） 40 / 36 / 3",
        "按期公示率 92.3%",
        "公示延迟中位数 5.5 小时",
        "三、绩效评价",
        "按期回访率 产出指标 20 100.0% 62.5% 62.5% 12.50",
        "捐赠到使用 P90（天） 效益指标 15 30.00 40.60 73.9% 11.08",
        "预算执行率 预算执行率 10 100.0% 75.0% 75.0% 7.50",
    ):
        assert expected in text, expected
    total = f"{round(float(EVALUATION_REPORT.evaluation.total), 2):.2f}"
    assert f"总分 {total} 分，评价等级：良。" in text
    assert f"合计（等级：良） 100 {total}" in text
    assert_page_numbers(evaluation)


def test_no_budget_and_no_use_show_a_dash() -> None:
    with pages_of(evaluation_pdf(EMPTY_EVALUATION_REPORT, font_path=DEFAULT_FONT_PATH)) as pages:
        check_empty_evaluation(pages)


def check_empty_evaluation(pages: list[Page]) -> None:
    text = "\n".join(lines(pages))
    for expected in (
        "项目预算 —",
        "乡镇（街道） 全区",
        "关联灾害事件 —",
        "募集金额 ¥0.00",
        "预算执行率 —",
        "捐赠到使用天数 P50 —",
        "捐赠到使用天数 P90 —",
        "按期回访率 —",
        "平均满意度（1–5 分） —",
        "公示延迟中位数 —",
        "预算执行率 预算执行率 10 100.0% 未测量 0.0% 0.00",
    ):
        assert expected in text, expected
    # the dash is drawn as a dash (a long, thin, inked stroke), not as a missing glyph's box
    page = next(p for p in pages if "预算执行率 —" in p.text)
    dash = page.char_index("预算执行率 —") + len("预算执行率 ")
    left, bottom, right, top = page.textpage.get_charbox(dash)
    assert right - left > 3 * (top - bottom) > 0
    stroke = page.image.crop(
        (
            int(left * SCALE),
            int((page.height - top) * SCALE),
            int(right * SCALE),
            int((page.height - bottom) * SCALE) + 1,
        )
    )
    assert ink(stroke) > 0.5
    assert_page_numbers(pages)


def test_the_annual_report_says_what_it_is(annual: list[Page]) -> None:
    text = "\n".join(lines(annual))
    assert lines(annual)[0] == "奉化区红十字会 2025 年度工作报告"
    for expected in (
        "统计范围：全区（奉化区红十字会）",
        "收入合计 ¥623,457.00",
        "支出合计 ¥242,346.06",
        "捐赠人数 131",
        "受助人数 2,040 人",
        "资金 120 ¥500,000.01 80.2%",
        "物资 30 ¥123,456.99 19.8%",
        "微信支付 70 ¥200,000.00 32.1%",
        "现金 5 ¥1.00 0.0%",
        "现场（物资） 30 ¥123,456.99 19.8%",
        "合计 150 ¥623,457.00 100.0%",
        "BOAI-JK01 博爱家园（江口街道） ¥150,000.50 ¥12,345.56 ¥162,346.06",
        "未指定乡镇 ¥30,000.00 ¥0.00 ¥30,000.00",
        "合计 ¥230,000.50 ¥12,345.56 ¥242,346.06",
        "衣被类 ¥50,000.00 ¥10,000.00 ¥40,000.01 ¥123.45 ¥19,876.54",
        "合计 ¥73,456.99 ¥10,000.00 ¥60,000.01 ¥3,580.44 ¥19,876.54",
        "SWJ-2025 博爱送万家 49.36 差",
    ):
        assert expected in text, expected
    assert text.count("合计 ¥230,000.50 ¥12,345.56 ¥242,346.06") == 2  # by project, by town
    assert_page_numbers(annual)


def test_the_title_is_drawn_in_real_glyphs(annual: list[Page]) -> None:
    page = annual[0]
    title = "奉化区红十字会"
    start = page.char_index(title)
    for offset in range(len(title)):
        assert ink(page.char_crop(start + offset)) > 0.08, title[offset]
    feng, hua = (glyph_bits(page.char_crop(start + i)) for i in (0, 1))
    differing = sum(a != b for a, b in zip(feng, hua, strict=True))
    assert differing > 0.15 * len(feng)  # tofu would look the same for both


def test_a_year_without_gifts() -> None:
    with pages_of(annual_pdf(EMPTY_ANNUAL_REPORT, font_path=DEFAULT_FONT_PATH)) as pages:
        text = "\n".join(lines(pages))
        assert_page_numbers(pages)
    text = "\n".join(lines(pages))
    assert "统计范围：溪口镇红十字会" in text
    assert "收入合计 ¥0.00" in text
    assert text.count("合计 0 ¥0.00 —") == 2  # by kind and by channel: no share of nothing
    assert "本年度无参评项目。" in text


def test_sixty_projects_run_over_pages_with_the_header_repeated(sixty: list[Page]) -> None:
    header = "项目编码 项目名称 得分 等级"
    code = re.compile(r"^(P\d{3}) 博爱项目第\d+号 \d+\.\d{2} [优良中差]$")
    found: list[str] = []
    pages_with_rows = 0
    for page in sixty:
        page_lines = page.text.split("\n")
        codes = [m.group(1) for line in page_lines if (m := code.match(line))]
        if not codes:
            continue
        pages_with_rows += 1
        first = next(i for i, line in enumerate(page_lines) if code.match(line))
        assert page_lines[first - 1] == header, f"no header above the rows: {page_lines[:4]}"
        assert page_lines.count(header) == 1
        found += codes
    assert pages_with_rows >= 2
    assert found == [f"P{i:03d}" for i in range(1, 61)]  # each once, in order
    assert_page_numbers(sixty)
    assert "第 1 页 / 共 1 页" not in sixty[0].text


def test_rendering_is_deterministic_and_the_font_a_subset() -> None:
    first = annual_pdf(ANNUAL_REPORT, font_path=DEFAULT_FONT_PATH)
    assert first == annual_pdf(ANNUAL_REPORT, font_path=DEFAULT_FONT_PATH)
    assert b"/FontFile2" in first
    assert len(first) < DEFAULT_FONT_PATH.stat().st_size // 20


@pytest.mark.parametrize("render", [annual_pdf, evaluation_pdf])
def test_a_missing_font_names_the_path_and_the_package(render: object, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-font.ttc"
    report = ANNUAL_REPORT if render is annual_pdf else EVALUATION_REPORT
    with pytest.raises(FileNotFoundError) as caught:
        render(report, font_path=missing)  # type: ignore[operator]
    assert str(missing) in str(caught.value)
    assert FONT_PACKAGE in str(caught.value)
