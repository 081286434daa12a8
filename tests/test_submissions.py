"""Untrusted input: junk notebooks never crash the validator or the planner (hypothesis)."""
from __future__ import annotations

import json
import os

import nbformat
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from academy import assignments, config
from academy.grading import codec
from academy.grading.submissions import BadSubmission, names_read_first, plan, read_submission, visible_part

SOURCE = nbformat.read(
    config.project_root() / "assignments" / "source" / "02-pandas-basics" / "02-pandas-basics.ipynb", 4
)
TEST_IDS = [c.metadata["nbgrader"]["grade_id"] for c in SOURCE.cells if assignments.is_autograded_test(c)]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
grade_ids = st.sampled_from(TEST_IDS + ["answer_food_share", "answer_top_dongs", "", "x"]) | st.integers() | st.none()
metadata = st.fixed_dictionaries(
    {},
    optional={
        "nbgrader": st.fixed_dictionaries({}, optional={"grade_id": grade_ids, "grade": st.booleans(), "solution": st.booleans(), "points": json_scalars}) | json_values,
        "tags": st.lists(st.sampled_from(["skip-execution", "raises-exception", "x"]), max_size=2) | json_values,
    },
)
cells = st.fixed_dictionaries(
    {"cell_type": st.sampled_from(["code", "markdown", "raw"]), "source": st.text(max_size=60) | st.lists(st.text(max_size=20), max_size=3)},
    optional={"metadata": metadata | json_values, "outputs": st.just([])},
)
notebooks = st.fixed_dictionaries(
    {"nbformat": st.just(4), "nbformat_minor": st.integers(0, 5), "cells": st.lists(cells, max_size=12)},
    optional={"metadata": st.dictionaries(st.sampled_from(["kernelspec", "x"]), json_values, max_size=2)},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=json_values | notebooks | st.binary(max_size=200))
def test_read_submission_never_crashes(tmp_path, payload):
    path = tmp_path / "sub.ipynb"
    path.write_bytes(payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    try:
        nb = read_submission(path)
    except BadSubmission as exc:
        assert "\n" in str(exc), "messages are bilingual: Korean line, English line"
        return
    assert isinstance(nb["cells"], list)


@settings(max_examples=200, deadline=None)
@given(submission=notebooks)
def test_plan_restores_every_test_exactly_once(submission):
    result = plan(SOURCE, submission, assignments.STUB)
    tests = [s.grade_id for s in result.steps if s.kind == "test"]
    assert sorted(tests) == sorted(TEST_IDS)
    by_id = {c.metadata["nbgrader"]["grade_id"]: c.source for c in SOURCE.cells if assignments.is_autograded_test(c)}
    for step in result.steps:
        if step.kind == "test":
            assert step.source == by_id[step.grade_id], "tests always come from the source"
    assert result.max_score == 100


def test_untampered_release_is_not_flagged():
    released = nbformat.read(config.project_root() / "tests" / "fixtures" / "assignments" / "02-pandas-basics" / "correct-groupby-style.ipynb", 4)
    result = plan(SOURCE, json.loads(nbformat.writes(released)), assignments.STUB)
    assert result.tamper == []


def test_symlinks_and_special_files_are_refused(tmp_path):
    real = tmp_path / "real.ipynb"
    real.write_text(nbformat.writes(nbformat.v4.new_notebook()))
    read_submission(real)  # a plain file is fine
    (tmp_path / "link.ipynb").symlink_to(real)
    os.mkfifo(tmp_path / "fifo.ipynb")  # reading would block the grader forever
    for name in ("link.ipynb", "fifo.ipynb"):
        with pytest.raises(BadSubmission, match="not a regular file"):
            read_submission(tmp_path / name)


def test_names_read_first_are_the_values_a_test_needs():
    test = """answer = top.iloc[:, 0] if isinstance(top, pd.DataFrame) else top
known = stores.dropna(subset=["floor"])
expected = known.groupby("sigungu").size()
for district, n in [("중구", 4)]:
    result = top_categories(stores, district, n)
total += 1
assert sorted(x for x in answer) == [y for y in expected], (lambda q: q + shift)(1)
"""
    # `known`, `expected`, `district`, `n`, `result`, `x` and `q` are the test's own;
    # `total += 1` reads total first.
    assert names_read_first(test) == {"top", "isinstance", "pd", "stores", "top_categories", "total", "sorted", "shift"}
    assert names_read_first("x = (") == set()


def test_visible_part_drops_hidden_region():
    text = '"""문서"""\nassert a\n### BEGIN HIDDEN TESTS\nassert b\n### END HIDDEN TESTS\n'
    assert visible_part(text) == '"""문서"""\nassert a'


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None)
@given(value=values)
def test_codec_round_trip_plain_values(value):
    decoded = codec.decode(json.loads(json.dumps(codec.encode(value))))
    assert repr(decoded) == repr(value) or (isinstance(value, float) and value != value)


def test_codec_round_trip_pandas():
    frame = pd.DataFrame({"gu": pd.Categorical(["중구", "서구"]), "n": [1, 2], "x": [0.5, None]}, index=["a", "b"])
    back = codec.decode(json.loads(json.dumps(codec.encode(frame))))
    pd.testing.assert_frame_equal(back, frame)
    series = pd.Series([1.5, 2.5], index=pd.Index(["중구", "서구"], name="gu"), name="share")
    back = codec.decode(json.loads(json.dumps(codec.encode(series))))
    pd.testing.assert_series_equal(back, series)


def test_codec_refuses_arbitrary_objects():
    class Lying:
        def __eq__(self, other):
            return True

    with pytest.raises(codec.Unsupported):
        codec.encode(Lying())
    with pytest.raises(codec.Unsupported):
        codec.decode({"pickle": "gASV"})
