"""The synthetic DTx cohort (chapter 10): reproducible, well-shaped, and as documented."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from academy import cohort
from academy.cohort import synthetic_cohort

SEEDS = [cohort.DEFAULT_SEED, 1, 2]


@pytest.fixture(scope="module")
def default():
    return synthetic_cohort()


def _change(frame: pd.DataFrame) -> pd.Series:
    return frame["outcome_w12"] - frame["baseline_score"]


def test_same_seed_same_data_and_other_seed_other_data(default):
    pd.testing.assert_frame_equal(default, synthetic_cohort(seed=cohort.DEFAULT_SEED))
    other = synthetic_cohort(seed=cohort.DEFAULT_SEED + 1)
    assert not default.drop(columns="participant_id").equals(other.drop(columns="participant_id"))
    assert (default["age"] != other["age"]).mean() > 0.5


def test_shape_columns_and_dtypes(default):
    assert default.shape == (cohort.DEFAULT_N, len(cohort.COLUMNS))
    assert list(default.columns) == cohort.COLUMNS
    assert default["participant_id"].is_unique
    assert default["participant_id"].str.fullmatch(r"P\d{4}").all()
    assert isinstance(default["arm"].dtype, pd.CategoricalDtype)
    assert set(default["arm"].cat.categories) == {"control", "treatment"}
    assert set(default["sex"].cat.categories) == {"여", "남"}
    for column in ["age", "baseline_score", "active_days", *cohort.ENGAGEMENT_COLUMNS]:
        assert default[column].dtype == "int64", column
    assert default["adherence"].dtype == "float64"
    assert default["outcome_w12"].dtype == "float64"
    assert default["dropout_week"].dtype == "Int64"
    assert default["completed"].dtype == bool
    assert len(synthetic_cohort(n=101, seed=3)) == 101


def test_values_stay_in_their_documented_ranges(default):
    assert default["age"].between(cohort.AGE_MIN, cohort.AGE_MAX).all()
    assert default["baseline_score"].between(cohort.INCLUSION_MIN, cohort.SCORE_MAX).all()
    weekly = default[cohort.ENGAGEMENT_COLUMNS]
    assert ((weekly >= 0) & (weekly <= 7)).all().all()
    assert (default["active_days"] == weekly.sum(axis=1)).all()
    assert np.allclose(default["adherence"], default["active_days"] / 84)
    observed = default["outcome_w12"].dropna()
    assert observed.between(0, cohort.SCORE_MAX).all() and (observed == observed.round()).all()


def test_dropouts_have_no_outcome_and_no_use_after_leaving(default):
    dropped = default[~default["completed"]]
    assert dropped["outcome_w12"].isna().all() and dropped["dropout_week"].notna().all()
    assert default.loc[default["completed"], "outcome_w12"].notna().all()
    assert default.loc[default["completed"], "dropout_week"].isna().all()
    assert dropped["dropout_week"].between(1, cohort.N_WEEKS - 1).all()
    weekly = dropped[cohort.ENGAGEMENT_COLUMNS].to_numpy()
    weeks = np.arange(1, cohort.N_WEEKS + 1)
    after = weeks[None, :] > dropped["dropout_week"].to_numpy(dtype=int)[:, None]
    assert (weekly[after] == 0).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_randomisation_is_balanced(seed):
    frame = synthetic_cohort(seed=seed)
    counts = frame["arm"].value_counts()
    assert abs(counts["treatment"] - counts["control"]) <= cohort.BLOCK_SIZE // 2
    for column in ["age", "baseline_score"]:
        means = frame.groupby("arm", observed=True)[column].mean()
        smd = (means["treatment"] - means["control"]) / frame[column].std()
        assert abs(smd) < 0.15, (column, smd)
    female = frame.groupby("arm", observed=True)["sex"].apply(lambda s: (s == "여").mean())
    assert abs(female["treatment"] - female["control"]) < 0.06


@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_rate_and_effect_size_within_documented_ranges(seed):
    frame = synthetic_cohort(seed=seed)
    low, high = cohort.EXPECTED_DROPOUT_RANGE
    assert low <= 1 - frame["completed"].mean() <= high
    done = frame[frame["completed"]]
    change = _change(done)
    means = change.groupby(done["arm"], observed=True).mean()
    sds = change.groupby(done["arm"], observed=True).std()
    diff = means["treatment"] - means["control"]
    d = abs(diff) / np.sqrt((sds**2).mean())
    assert cohort.EXPECTED_DIFF_RANGE[0] <= diff <= cohort.EXPECTED_DIFF_RANGE[1], diff
    assert cohort.EXPECTED_D_RANGE[0] <= d <= cohort.EXPECTED_D_RANGE[1], d


def test_adherence_is_related_to_outcome_in_both_arms(default):
    # The hidden motivation trait: even the control app's keen users improve more (why per-protocol is biased).
    done = default[default["completed"]].assign(change=_change)
    for arm in ["control", "treatment"]:
        group = done[done["arm"] == arm]
        assert group["adherence"].corr(group["change"]) < 0, arm


def test_no_real_person_fields(default):
    forbidden = {"name", "이름", "phone", "전화", "address", "주소", "birth", "생년월일", "rrn", "주민", "email"}
    lowered = " ".join(default.columns).lower()
    assert not [word for word in forbidden if word in lowered]


def test_helpers(default):
    long = cohort.weekly_long(default)
    assert len(long) == len(default) * cohort.N_WEEKS
    assert set(long["week"]) == set(range(1, cohort.N_WEEKS + 1))
    assert long["days"].sum() == default["active_days"].sum()
    table = cohort.assumptions()
    assert {"name", "value", "설명"} <= set(table.columns)
    assert "TREATMENT_EFFECT_FULL" in set(table["name"])


def test_too_small_n_is_an_error():
    with pytest.raises(ValueError):
        synthetic_cohort(n=2)
