"""Hangul renders without missing glyphs; negative numbers render; house style applies."""
from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from academy import plotting  # noqa: E402


def _render_with_warnings(fig) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    return [str(w.message) for w in caught]


def test_korean_text_and_negative_numbers_render_without_glyph_warnings():
    plotting.setup()
    fig, ax = plt.subplots()
    ax.plot([-3, -1, 0, 2], [-1500, 200, -30, 40], label="해운대구 기온 변화")
    ax.set_title("부산 구·군별 상가 수 (2022년)")
    ax.set_xlabel("월 (개월)")
    ax.set_ylabel("변화량 (℃)")
    ax.legend(title="범례")
    ax.text(0, 0, "강서구·기장군 ㎡ 만원")
    messages = _render_with_warnings(fig)
    plt.close(fig)
    glyph = [m for m in messages if "Glyph" in m or "missing from" in m]
    assert not glyph, glyph
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any(label.startswith("-") for label in labels), labels  # ASCII minus, not U+2212


def test_glyph_check_can_fail_without_korean_font():
    """The guard above is real: with a Latin-only font, Hangul raises glyph warnings."""
    with matplotlib.rc_context({"font.family": "DejaVu Sans"}):
        fig, ax = plt.subplots()
        ax.set_title("부산")
        messages = _render_with_warnings(fig)
        plt.close(fig)
    assert any("Glyph" in m for m in messages)


def test_setup_selects_nanum_and_house_style():
    plotting.setup()
    path = font_manager.findfont(font_manager.FontProperties(family=matplotlib.rcParams["font.family"][0]))
    assert "Nanum" in path
    assert matplotlib.rcParams["axes.unicode_minus"] is False
    assert matplotlib.rcParams["axes.spines.top"] is False


def test_register_fonts_changes_no_style():
    matplotlib.rcdefaults()
    before = dict(matplotlib.rcParams)
    plotting.register_fonts()
    assert dict(matplotlib.rcParams) == before
    assert plotting.FONT_FAMILY in {f.name for f in font_manager.fontManager.ttflist}


def test_korean_number_format():
    assert plotting.korean_number(12_345) == "1.2만"
    assert plotting.korean_number(340_000_000) == "3.4억"
    assert plotting.korean_number(-25_000) == "-2.5만"
    assert plotting.korean_number(999) == "999"
    assert plotting.korean_number(2e12) == "2조"


def test_log_axes_render_without_glyph_warnings():
    plotting.setup()
    fig, ax = plt.subplots()
    ax.semilogy([1, 2, 3], [0.001, 0.1, 10])
    ax.set_title("로그 눈금 (단위: 곳)")
    messages = _render_with_warnings(fig)
    plt.close(fig)
    assert not [m for m in messages if "Glyph" in m or "missing from" in m], messages
