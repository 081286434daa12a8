"""academy.checks: accepts every correct form, rejects wrong answers, proves itself."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from academy import checks
from academy.checks import CORRECT, INCORRECT, NOT_ATTEMPTED, Wrong, compare

SERIES = pd.Series({"부산진구": 19682, "해운대구": 16389, "동래구": 11434}, name="n")


@pytest.mark.parametrize(
    "answer",
    [
        SERIES,
        SERIES.to_frame(),  # one-column DataFrame for a Series
        SERIES.astype("int32"),  # dtype width
        SERIES.astype(float) + 1e-9,  # float tolerance
        SERIES.rename("other name"),
    ],
)
def test_series_forms_accepted(answer):
    compare(answer, SERIES)


def test_unordered_series_and_frames():
    shuffled = SERIES.iloc[[2, 0, 1]]
    with pytest.raises(Wrong):
        compare(shuffled, SERIES)  # order matters by default
    compare(shuffled, SERIES, {"ordered": False})
    frame = pd.DataFrame({"gu": ["a", "b", "c"], "n": [1, 2, 3]})
    compare(frame[["n", "gu"]].iloc[::-1], frame, {"ordered": False})  # column and row order


@pytest.mark.parametrize(
    "answer,expected",
    [
        (SERIES.iloc[:2], SERIES),  # missing a row
        (SERIES * 2, SERIES),  # wrong values
        (SERIES.rename(index={"동래구": "중구"}), SERIES),  # wrong labels
        ([19682, 16389, 11434], SERIES),  # a list is not a Series
        (3.2, 3.0),
        ("중구", "부산진구"),
        (7, "7"),
        ({"a", "b"}, {"a", "b", "c"}),
        (pd.DataFrame({"x": [1]}), pd.DataFrame({"y": [1]})),
    ],
)
def test_wrong_answers_rejected_with_korean_message(answer, expected):
    with pytest.raises(Wrong) as err:
        compare(answer, expected)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in str(err.value)), "message should be Korean"


def test_scalars_lists_and_text():
    compare(np.int64(5), 5)
    compare(0.1 + 0.2, 0.3)
    compare(" 부산진구 ", "부산진구")
    compare((1, 2, 3), [1, 2, 3])
    compare(np.array([1.0, 2.0]), [1, 2])
    compare(["b", "a"], ["a", "b"], {"ordered": False})
    compare({"a": 1, "b": 2.0}, {"b": 2, "a": 1})


SPEC = {
    "q1": {
        "variable": "answer",
        "solution": "answer = sum(values)",
        "also_correct": ["answer = float(sum(values))"],
        "hints": ["더해 보세요.", "sum()을 쓰세요."],
        "wrong": [{"code": "answer = max(values)", "message": "최댓값이 아니라 합계예요."}],
    }
}


def test_evaluate_statuses_and_mistake_tip():
    exercise = checks.parse(SPEC, "99.01").q1
    namespace = {"values": [1, 2, 3]}
    assert exercise.evaluate(checks.PLACEHOLDER, namespace).status == NOT_ATTEMPTED
    assert exercise.evaluate(None, namespace).status == NOT_ATTEMPTED
    assert exercise.evaluate(6, namespace).status == CORRECT
    wrong = exercise.evaluate(3, namespace)
    assert wrong.status == INCORRECT and "최댓값" in wrong.message


def test_selftest_passes_and_reports(tmp_path, monkeypatch):
    report = tmp_path / "checks.jsonl"
    monkeypatch.setenv("ACADEMY_CHECKS_REPORT", str(report))
    record = checks.parse(SPEC, "99.01").q1.selftest({"values": [1, 2, 3]})
    assert record["wrong_rejected"] == 1 and record["variants_accepted"] == 1
    assert json.loads(report.read_text())["exercise"] == "q1"


def test_selftest_catches_a_checker_that_accepts_a_wrong_answer():
    bad = {"q1": dict(SPEC["q1"], wrong=[{"code": "answer = 6"}])}
    with pytest.raises(checks.SelfTestError, match="wrong answer accepted"):
        checks.parse(bad, "99.01").q1.selftest({"values": [1, 2, 3]})


def test_selftest_catches_a_rejected_correct_variant():
    bad = {"q1": dict(SPEC["q1"], also_correct=["answer = 7"])}
    with pytest.raises(checks.SelfTestError, match="correct variant rejected"):
        checks.parse(bad, "99.01").q1.selftest({"values": [1, 2, 3]})


def test_selftest_requires_a_wrong_example():
    bare = {"q1": {k: v for k, v in SPEC["q1"].items() if k != "wrong"}}
    with pytest.raises(checks.SelfTestError, match="no wrong example"):
        checks.parse(bare, "99.01").q1.selftest({"values": [1, 2, 3]})


def test_hints_advance_and_solution_shows_code(capsys):
    exercise = checks.parse(SPEC, "99.01").q1
    exercise.hint()
    exercise.hint()
    exercise.hint()
    exercise.solution()
    out = capsys.readouterr().out
    assert "힌트 1/2" in out and "힌트 2/2" in out and "sum(values)" in out


def test_axes_answers():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    with pytest.raises(Wrong, match="제목"):
        checks.check_axes(ax, {})
    ax.plot([1, 2], [3, 4])
    ax.set_title("제목")
    ax.set_xlabel("x (단위)")
    ax.set_ylabel("y (단위)")
    checks.check_axes(ax, {})
    plt.close(fig)


def test_load_finds_lesson_file_and_defines_blank(tmp_path, monkeypatch):
    import __main__

    (tmp_path / "99.01-demo.checks.yml").write_text(
        "q1:\n  variable: a\n  solution: a = 1\n  wrong: [a = 2]\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    exercises = checks.load("99.01")
    assert len(exercises) == 1 and exercises.q1.variable == "a"
    assert getattr(__main__, checks.PLACEHOLDER) == checks.PLACEHOLDER
    with pytest.raises(AttributeError):
        _ = exercises.q9


def test_non_text_code_entries_are_named_clearly():
    bad = {"q1": dict(SPEC["q1"], also_correct=[{"answer = sorted(values, key=lambda x": "x)"}])}
    with pytest.raises(ValueError, match="99.01 q1: every 'also_correct' entry must be code text"):
        checks.parse(bad, "99.01")


def test_frame_index_labels_are_checked_unless_ignored():
    expected = pd.DataFrame({"n": [1, 2]}, index=["중구", "서구"])
    wrong_labels = pd.DataFrame({"n": [1, 2]}, index=["동구", "서구"])
    with pytest.raises(Wrong, match="인덱스"):
        compare(wrong_labels, expected)
    compare(wrong_labels, expected, {"ignore_index": True})
    compare(expected.iloc[::-1], expected, {"ordered": False})
    with pytest.raises(Wrong, match="순서"):
        compare(expected.iloc[::-1], expected)


def test_all_missing_values_are_equal():
    compare(pd.Series([1.0, float("nan")]), pd.Series([1.0, None], dtype="Float64"))
    compare(pd.Series([pd.NA, 2], dtype="Int64"), pd.Series([float("nan"), 2.0]))
    with pytest.raises(Wrong):
        compare(pd.Series([1.0, float("nan")]), pd.Series([1.0, 0.0]))
