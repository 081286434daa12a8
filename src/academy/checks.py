"""Self-checks for lesson exercises, in the style of Kaggle Learn's ``q1.check()``.

Exercises are data: each lesson ``NN.SS-title.ipynb`` has a sibling
``NN.SS-title.checks.yml``::

    q1:
      variable: top_district          # the name the student assigns
      prompt: 상가가 가장 많은 구·군은?   # optional, shown by .hint() headers
      solution: |
        top_district = stores["sigungu"].value_counts().idxmax()
      hints:
        - value_counts()로 구·군별 상가 수를 세어 보세요.
        - idxmax()는 가장 큰 값의 인덱스(이름)를 돌려줘요.
      compare: {ordered: false, rtol: 1e-6}   # optional
      also_correct:                            # other correct forms (CI proves they pass)
        - top_district = stores.groupby("sigungu").size().idxmax()
      wrong:                                   # plausible mistakes, with a tip
        - code: top_district = stores["sigungu"].value_counts().idxmin()
          message: 가장 적은 곳을 고른 것 같아요.

The expected answer is never typed in: it is computed by running ``solution``
on a copy of the student's namespace, so it always matches the real data.
In a lesson::

    from academy import checks
    ex = checks.load("02.01")
    ...
    ex.q1.check()     # 정답 / 오답 (+ 이유) / 아직 풀지 않음
    ex.q1.hint()      # one more hint each call
    ex.q1.solution()

With ``ACADEMY_CHECKS_SELFTEST=1`` (set by the notebook runner in CI), every
``check()`` also proves the checker: the reference solution must pass and every
``also_correct`` variant must pass and every ``wrong`` example must fail; a failure raises, so the notebook fails. Results are
appended as JSON lines to ``$ACADEMY_CHECKS_REPORT`` when that is set.

This module stands alone: lessons import it, it imports no other academy module.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CORRECT, INCORRECT, NOT_ATTEMPTED = "correct", "incorrect", "not_attempted"
PLACEHOLDER = "____"


class Wrong(Exception):
    """Raised by comparisons with a Korean explanation of what differs."""


class SelfTestError(AssertionError):
    """A checker rejected its own reference solution or accepted a wrong answer."""


@dataclass
class Result:
    status: str
    message: str

    @property
    def correct(self) -> bool:
        return self.status == CORRECT


# --------------------------------------------------------------------------- comparing


def _is_frame(value: Any) -> bool:
    return type(value).__name__ in ("DataFrame", "GeoDataFrame")


def _is_series(value: Any) -> bool:
    return type(value).__name__ == "Series"


def _type_name(value: Any) -> str:
    return type(value).__name__


def _as_series(value: Any):
    """A Series, or a one-column DataFrame, as a Series (else unchanged)."""
    if _is_frame(value) and value.shape[1] == 1:
        return value.iloc[:, 0]
    return value


def _numbers_close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return False
    if math.isnan(fa) and math.isnan(fb):
        return True
    return math.isclose(fa, fb, rel_tol=rtol, abs_tol=atol)


def _is_number(value: Any) -> bool:
    import numbers

    import numpy as np

    return isinstance(value, (numbers.Number, np.number)) and not isinstance(value, bool)


def _is_missing(value: Any) -> bool:
    try:
        import pandas as pd

        result = pd.isna(value)
    except (TypeError, ValueError, ImportError):
        return False
    return isinstance(result, bool) and result


def _scalar_equal(a: Any, b: Any, rtol: float, atol: float) -> bool:
    if _is_missing(a) or _is_missing(b):
        return _is_missing(a) and _is_missing(b)  # NaN, None, pd.NA and NaT are all "missing"
    if _is_number(a) and _is_number(b):
        return _numbers_close(a, b, rtol, atol)
    if isinstance(a, str) and isinstance(b, str):
        return a.strip() == b.strip()
    try:
        return bool(a == b)
    except Exception:
        return False


def _compare_series(answer, expected, opts: dict[str, Any]) -> None:
    import pandas as pd

    if len(answer) != len(expected):
        raise Wrong(f"길이가 달라요: 기대한 값은 {len(expected)}개인데 {len(answer)}개예요.")
    ordered = opts.get("ordered", True)
    use_index = not opts.get("ignore_index", False)
    a, e = answer, expected
    if use_index:
        if not ordered:
            a, e = a.sort_index(), e.sort_index()
        if set(map(str, a.index)) != set(map(str, e.index)):
            missing = [i for i in e.index if i not in set(a.index)][:3]
            raise Wrong(f"인덱스(이름표)가 달라요. 빠진 항목 예: {missing}")
        a = a.copy()
        a.index = a.index.map(str)
        e = e.copy()
        e.index = e.index.map(str)
        a = a.reindex(e.index) if not ordered else a
    else:
        a = pd.Series(a.to_numpy())
        e = pd.Series(e.to_numpy())
        if not ordered:
            a = a.sort_values(ignore_index=True)
            e = e.sort_values(ignore_index=True)
    for (ia, va), (ie, ve) in zip(a.items(), e.items()):
        if use_index and ordered and str(ia) != str(ie):
            raise Wrong(f"순서가 달라요: {list(e.index[:3])} … 순서로 정렬해야 해요.")
        if not _scalar_equal(va, ve, opts["rtol"], opts["atol"]):
            raise Wrong(f"'{ie}'의 값이 달라요: 기대한 값은 {ve!r}인데 {va!r}예요.")


def _compare_frames(answer, expected, opts: dict[str, Any]) -> None:
    if set(map(str, answer.columns)) != set(map(str, expected.columns)):
        need = sorted(map(str, expected.columns))
        got = sorted(map(str, answer.columns))
        raise Wrong(f"열(column)이 달라요: 필요한 열은 {need}인데 {got}예요.")
    if len(answer) != len(expected):
        raise Wrong(f"행(row) 수가 달라요: 기대한 값은 {len(expected)}행인데 {len(answer)}행이에요.")
    columns = list(expected.columns)
    lookup = {str(c): c for c in answer.columns}
    a = answer[[lookup[str(c)] for c in columns]]
    a.columns = columns
    e = expected
    if not opts.get("ignore_index", False):
        a_index, e_index = [str(i) for i in a.index], [str(i) for i in e.index]
        if sorted(a_index) != sorted(e_index):
            missing = [i for i in e_index if i not in set(a_index)][:3]
            raise Wrong(f"인덱스(행 이름표)가 달라요. 빠진 항목 예: {missing}")
        if opts.get("ordered", True):
            if a_index != e_index:
                raise Wrong(f"행 순서가 달라요: {e_index[:3]} … 순서로 정렬해야 해요.")
        elif len(set(e_index)) == len(e_index):
            a = a.set_axis(a_index).reindex(e_index)
            e = e.set_axis(e_index)
    elif not opts.get("ordered", True):
        keys = list(a.columns)
        try:
            a = a.sort_values(keys, ignore_index=True)
            e = e.sort_values(keys, ignore_index=True)
        except TypeError:
            pass
    for column in columns:
        left, right = a[column].reset_index(drop=True), e[column].reset_index(drop=True)
        inner = dict(opts, ignore_index=True, ordered=True)
        try:
            _compare_series(left, right, inner)
        except Wrong as exc:
            raise Wrong(f"'{column}' 열: {exc}") from None


def compare(answer: Any, expected: Any, options: dict[str, Any] | None = None) -> None:
    """Raise :class:`Wrong` (Korean message) unless ``answer`` matches ``expected``.

    Accepts every harmless variation: a one-column DataFrame for a Series, any row
    order when ``ordered`` is false, column order, dtype width, float tolerance,
    list vs tuple vs array, surrounding spaces in text.
    """
    opts = {"rtol": 1e-6, "atol": 1e-9, "ordered": True}
    opts.update(options or {})
    if _is_series(expected):
        answer = _as_series(answer)
    elif _is_frame(expected) and _is_series(answer) and expected.shape[1] == 1:
        expected = _as_series(expected)
    if _is_series(expected) or _is_frame(expected):
        if _is_frame(expected) and _is_frame(answer):
            return _compare_frames(answer, expected, opts)
        if _is_series(expected) and _is_series(answer):
            return _compare_series(answer, expected, opts)
        raise Wrong(
            f"{_type_name(expected)} 형태의 답이 필요해요. 지금 답은 {_type_name(answer)}이에요."
        )
    if isinstance(expected, (set, frozenset)) or (
        isinstance(expected, (list, tuple)) and not opts["ordered"]
    ):
        try:
            got = sorted(map(str, answer))
        except TypeError:
            raise Wrong(f"여러 값을 담은 list나 set이 필요해요. 지금 답은 {_type_name(answer)}이에요.") from None
        need = sorted(map(str, expected))
        if got != need:
            extra = sorted(set(got) - set(need))[:3]
            missing = sorted(set(need) - set(got))[:3]
            raise Wrong(f"항목이 달라요. 빠진 항목: {missing}, 더 들어간 항목: {extra}")
        return None
    if isinstance(expected, (list, tuple)) or type(expected).__name__ == "ndarray":
        try:
            got_list = list(answer)
        except TypeError:
            raise Wrong(f"여러 값을 담은 list가 필요해요. 지금 답은 {_type_name(answer)}이에요.") from None
        need_list = list(expected)
        if len(got_list) != len(need_list):
            raise Wrong(f"길이가 달라요: 기대한 값은 {len(need_list)}개인데 {len(got_list)}개예요.")
        for i, (a, e) in enumerate(zip(got_list, need_list)):
            if not _scalar_equal(a, e, opts["rtol"], opts["atol"]):
                raise Wrong(f"{i}번째 값이 달라요: {a!r}")
        return None
    if isinstance(expected, dict):
        if not isinstance(answer, dict):
            raise Wrong(f"dict가 필요해요. 지금 답은 {_type_name(answer)}이에요.")
        if set(map(str, answer)) != set(map(str, expected)):
            raise Wrong(f"키(key)가 달라요: 필요한 키는 {sorted(map(str, expected))}예요.")
        lookup = {str(k): v for k, v in answer.items()}
        for key, value in expected.items():
            try:
                compare(lookup[str(key)], value, opts)
            except Wrong as exc:
                raise Wrong(f"키 '{key}': {exc}") from None
        return None
    if isinstance(expected, bool) or type(expected).__name__ == "bool_":
        if answer is None or bool(answer) != bool(expected) or _is_number(answer) and answer not in (0, 1):
            raise Wrong("참/거짓(True/False) 판단이 달라요.")
        return None
    if _is_number(expected):
        if not _is_number(answer):
            raise Wrong(f"숫자가 필요해요. 지금 답은 {_type_name(answer)}이에요.")
        if not _numbers_close(answer, expected, opts["rtol"], opts["atol"]):
            raise Wrong("값이 달라요. 계산 과정을 다시 확인해 보세요.")
        return None
    if isinstance(expected, str):
        if not isinstance(answer, str):
            raise Wrong(f"문자열(str)이 필요해요. 지금 답은 {_type_name(answer)}이에요.")
        if answer.strip() != expected.strip():
            raise Wrong("값이 달라요. 철자와 띄어쓰기도 확인해 보세요.")
        return None
    if not _scalar_equal(answer, expected, opts["rtol"], opts["atol"]):
        raise Wrong("값이 달라요.")
    return None


def check_axes(answer: Any, options: dict[str, Any]) -> None:
    """A figure answer: an Axes with a title, axis labels and something drawn."""
    axes = answer
    if type(answer).__name__ == "Figure":
        axes = answer.axes[0] if answer.axes else None
    if axes is None or not hasattr(axes, "get_title"):
        raise Wrong(f"matplotlib Axes(ax)가 필요해요. 지금 답은 {_type_name(answer)}이에요.")
    if not axes.get_title().strip():
        raise Wrong("그래프에 제목(title)을 붙여 주세요.")
    if not axes.get_xlabel().strip() or not axes.get_ylabel().strip():
        raise Wrong("x축과 y축 이름(label)을 모두 붙여 주세요. 단위도 함께 적으면 좋아요.")
    drawn = len(axes.lines) + len(axes.patches) + len(axes.collections) + len(axes.images)
    if drawn < options.get("min_artists", 1):
        raise Wrong("그래프에 그려진 것이 없어요.")


# --------------------------------------------------------------------------- exercises


def _user_namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            return shell.user_ns
    except ImportError:
        pass
    import __main__

    return vars(__main__)


def _show(markdown: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(markdown))
            return
    except ImportError:
        pass
    print(markdown)


@dataclass
class Exercise:
    key: str
    lesson: str
    variable: str
    solution_code: str
    hints: list[str] = field(default_factory=list)
    prompt: str = ""
    kind: str = "value"
    options: dict[str, Any] = field(default_factory=dict)
    wrong: list[dict[str, str]] = field(default_factory=list)
    also_correct: list[str] = field(default_factory=list)
    _hints_shown: int = 0

    # ---- evaluation (pure: no display) -------------------------------------

    def _run(self, code: str, namespace: dict[str, Any]) -> Any:
        scope = dict(namespace)
        scope.pop(self.variable, None)
        exec(compile(code, f"<{self.lesson} {self.key}>", "exec"), scope)  # noqa: S102 - lesson content
        if self.variable not in scope:
            raise RuntimeError(f"{self.lesson} {self.key}: code does not define {self.variable}")
        return scope[self.variable]

    def expected(self, namespace: dict[str, Any]) -> Any:
        return self._run(self.solution_code, namespace)

    def evaluate(self, answer: Any, namespace: dict[str, Any]) -> Result:
        if answer is None or answer is Ellipsis or (isinstance(answer, str) and answer == PLACEHOLDER):
            return Result(NOT_ATTEMPTED, f"아직 풀지 않았어요. `{self.variable}`에 답을 넣고 다시 실행해 보세요.")
        try:
            if self.kind == "axes":
                check_axes(answer, self.options)
            else:
                compare(answer, self.expected(namespace), self.options)
        except Wrong as exc:
            return Result(INCORRECT, f"아직 정답이 아니에요. {exc}{self._mistake_tip(answer, namespace)}")
        return Result(CORRECT, "정답이에요! 잘했어요.")

    def _mistake_tip(self, answer: Any, namespace: dict[str, Any]) -> str:
        for example in self.wrong:
            if not example.get("message"):
                continue
            try:
                compare(answer, self._run(example["code"], namespace), self.options)
            except Exception:
                continue
            return f" 힌트: {example['message']}"
        return ""

    # ---- student API ---------------------------------------------------------

    def check(self) -> None:
        """Check the student's answer and show 정답 / 오답 / 아직 풀지 않음."""
        namespace = _user_namespace()
        if os.environ.get("ACADEMY_CHECKS_SELFTEST") == "1":
            self.selftest(namespace)
        result = self.evaluate(namespace.get(self.variable), namespace)
        icon = {CORRECT: "✅", INCORRECT: "❌", NOT_ATTEMPTED: "✏️"}[result.status]
        _show(f"{icon} **{self.key}** — {result.message}")

    def hint(self) -> None:
        """Show the next hint (one more level on each call)."""
        if not self.hints:
            _show(f"💡 **{self.key}** — 이 문제에는 힌트가 없어요.")
            return
        level = min(self._hints_shown, len(self.hints) - 1)
        self._hints_shown += 1
        more = " (다시 실행하면 다음 힌트가 나와요)" if level + 1 < len(self.hints) else ""
        _show(f"💡 **{self.key} 힌트 {level + 1}/{len(self.hints)}** — {self.hints[level]}{more}")

    def solution(self) -> None:
        """Show the reference solution."""
        _show(f"📘 **{self.key} 풀이**\n\n```python\n{self.solution_code.strip()}\n```")

    # ---- CI ------------------------------------------------------------------

    def selftest(self, namespace: dict[str, Any]) -> dict[str, Any]:
        """Prove the checker: reference passes, every wrong example fails."""
        reference = self.evaluate(self.expected(namespace), namespace)
        if not reference.correct:
            raise SelfTestError(f"{self.lesson} {self.key}: reference rejected: {reference.message}")
        for code in self.also_correct:
            outcome = self.evaluate(self._run(code, namespace), namespace)
            if not outcome.correct:
                raise SelfTestError(f"{self.lesson} {self.key}: correct variant rejected: {code}: {outcome.message}")
        rejected = 0
        for example in self.wrong:
            outcome = self.evaluate(self._run(example["code"], namespace), namespace)
            if outcome.correct:
                raise SelfTestError(f"{self.lesson} {self.key}: wrong answer accepted: {example['code']}")
            rejected += 1
        if rejected == 0:
            raise SelfTestError(f"{self.lesson} {self.key}: no wrong example to reject")
        record = {
            "lesson": self.lesson,
            "exercise": self.key,
            "reference": "pass",
            "variants_accepted": len(self.also_correct),
            "wrong_rejected": rejected,
        }
        report = os.environ.get("ACADEMY_CHECKS_REPORT")
        if report:
            with open(report, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        return record


class ExerciseSet:
    """The exercises of one lesson, as attributes: ``ex.q1``, ``ex.q2`` …"""

    def __init__(self, lesson: str, exercises: dict[str, Exercise]):
        self.lesson = lesson
        self._exercises = exercises

    def __getattr__(self, key: str) -> Exercise:
        try:
            return self._exercises[key]
        except KeyError:
            raise AttributeError(f"{self.lesson}에는 '{key}' 문제가 없어요: {list(self._exercises)}") from None

    def __iter__(self):
        return iter(self._exercises.values())

    def __len__(self) -> int:
        return len(self._exercises)

    def __dir__(self):
        return list(self._exercises)


def _find_checks_file(lesson: str) -> Path:
    pattern = f"{lesson}*.checks.yml" if not lesson.endswith(".yml") else lesson
    for base in (Path.cwd(), Path(os.environ.get("ACADEMY_ROOT", Path.cwd())) / "course"):
        hits = sorted(base.glob(pattern)) or sorted(base.glob(f"**/{pattern}"))
        if hits:
            return hits[0]
    raise FileNotFoundError(
        f"'{lesson}' 수업의 문제 파일(*.checks.yml)을 찾을 수 없어요. 노트북과 같은 폴더에서 실행하세요.\n"
        f"No checks file for lesson '{lesson}' (looked for {pattern} from {Path.cwd()})."
    )


def _code_strings(lesson: str, key: str, field_name: str, items: list) -> None:
    for entry in items:
        code = entry.get("code") if isinstance(entry, dict) else entry
        if not isinstance(code, str):
            raise ValueError(
                f"{lesson} {key}: every '{field_name}' entry must be code text; got {type(code).__name__} "
                f"(quote it or use a YAML block scalar '|': {entry!r})"
            )


def _options(raw: dict[str, Any]) -> dict[str, Any]:
    """YAML reads `1e-3` as text; tolerances must be numbers."""
    options = dict(raw)
    for key in ("rtol", "atol"):
        if key in options:
            options[key] = float(options[key])
    return options


def parse(spec: dict[str, Any], lesson: str) -> ExerciseSet:
    exercises = {}
    for key, item in spec.items():
        _code_strings(lesson, key, "also_correct", item.get("also_correct", []))
        _code_strings(lesson, key, "wrong", item.get("wrong", []))
        _code_strings(lesson, key, "solution", [item["solution"]])
        exercises[key] = Exercise(
            key=key,
            lesson=lesson,
            variable=item["variable"],
            solution_code=item["solution"],
            hints=list(item.get("hints", [])),
            prompt=item.get("prompt", ""),
            kind=item.get("kind", "value"),
            options=_options(item.get("compare", {})),
            wrong=[w if isinstance(w, dict) else {"code": w} for w in item.get("wrong", [])],
            also_correct=list(item.get("also_correct", [])),
        )
    return ExerciseSet(lesson, exercises)


def load(lesson: str) -> ExerciseSet:
    """Load a lesson's exercises, e.g. ``checks.load("02.01")``.

    Also defines the blank ``____`` in the student's namespace, so exercise cells
    like ``answer = ____`` run and report "아직 풀지 않았어요" instead of a NameError.
    """
    _user_namespace().setdefault(PLACEHOLDER, PLACEHOLDER)
    path = _find_checks_file(lesson)
    with path.open(encoding="utf-8") as fh:
        spec = yaml.safe_load(fh) or {}
    return parse(spec, path.name.split("-")[0])


def assert_same(answer: Any, expected: Any, **options: Any) -> None:
    """For assignment test cells: AssertionError with the Korean reason unless equal.

    Same tolerance rules as :func:`compare` (Series vs one-column frame, dtype width,
    ``ordered=False``, ``ignore_index=True``, ``rtol``/``atol``). Silent on success, so a
    passing test writes nothing to stderr.
    """
    try:
        compare(answer, expected, options)
    except Wrong as exc:
        raise AssertionError(str(exc)) from None
