"""A documented, reproducible SYNTHETIC cohort for the digital-therapeutics track.

Patient-level trial data are private by law in Korea (개인정보 보호법, 의료법) and
cannot be shipped with a course. Chapter 10 therefore uses this generator: a
made-up randomised controlled trial (RCT) of an app-based digital therapeutic
(디지털 치료기기) for insomnia, loosely modelled on how such trials are reported.
No row describes a real person; every number comes from the assumptions below.

The trial in one paragraph
--------------------------
Adults with at least moderate insomnia (symptom score 15–28 on a 0–28 scale like
the Insomnia Severity Index, higher = worse) are randomised 1:1 in permuted
blocks of 4 to a treatment app (digital CBT-I) or a control app (sleep-hygiene
education). Both apps record on how many days of each week the participant used
them (0–7) for 12 weeks. Some participants leave the study early (drop-out); their
week-12 score is missing. The week-12 score improves in both arms (natural course,
regression to the mean), more for motivated participants (an *unobserved* trait
that also drives app use), and in the treatment arm additionally in proportion to
how much of the programme was used (adherence). That hidden "motivation" is what
makes per-protocol comparisons biased in lesson 10.02.

Columns of :func:`synthetic_cohort`
-----------------------------------
participant_id  str       "P0001" …, a study number (no name, birth date, phone, address)
arm             category  "control" / "treatment" (block randomisation)
age             int64     years at enrolment (AGE_MIN … AGE_MAX)
sex             category  "여" (female) / "남" (male)
baseline_score  int64     symptom score at enrolment (INCLUSION_MIN … SCORE_MAX)
eng_w01…eng_w12 int64     days the app was used in that week (0–7); 0 after drop-out
active_days     int64     sum of the 12 weekly columns (0–84)
adherence       float64   active_days / 84 (share of the prescribed daily use)
dropout_week    Int64     last week in the study for those who dropped out (1–11); <NA> if completed
completed       bool      stayed to the week-12 assessment
outcome_w12     float64   symptom score at week 12 (0–28); NaN for drop-outs

Expected behaviour for the default size (checked by tests/test_cohort.py over
several seeds): drop-out share within EXPECTED_DROPOUT_RANGE, and among
completers a treatment − control difference in score change within
EXPECTED_DIFF_RANGE points, i.e. a modest standardised effect (Cohen's d) within
EXPECTED_D_RANGE.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------- design
DEFAULT_N = 2000  # participants randomised
DEFAULT_SEED = 20261125  # the course's default seed (a date: 2026-11-25)
N_WEEKS = 12  # length of the programme, weeks
DAYS_PER_WEEK = 7
BLOCK_SIZE = 4  # permuted blocks of 4: 2 treatment + 2 control in random order
ARMS = ("control", "treatment")
ENGAGEMENT_COLUMNS = [f"eng_w{week:02d}" for week in range(1, N_WEEKS + 1)]

# --------------------------------------------------------------------------- baseline
AGE_MEAN, AGE_SD = 46.0, 13.0  # adult insomnia patients, years
AGE_MIN, AGE_MAX = 19, 75  # inclusion criteria (adults, not the oldest old)
SHARE_FEMALE = 0.60  # insomnia is reported more often by women
SCORE_MAX = 28  # top of the 0–28 symptom scale (higher = worse)
INCLUSION_MIN = 15  # "moderate or worse" insomnia to be enrolled
BASELINE_MEAN, BASELINE_SD = 19.0, 3.5  # before truncation to INCLUSION_MIN … SCORE_MAX

# --------------------------------------------------------------------------- engagement
# Days of use per week ~ Binomial(7, p); logit(p) is a linear score:
ENG_INTERCEPT = 1.0  # logit of the daily-use probability in week 1 for an average person
ENG_MOTIVATION = 0.9  # per SD of the hidden motivation trait
ENG_AGE_PER_10Y = 0.10  # older participants use the app slightly more regularly
ENG_WEEKLY_DECAY = -0.12  # use fades week by week (novelty wears off)

# --------------------------------------------------------------------------- drop-out
# Weekly hazard of leaving after weeks 1–11; logit(h) is a linear score:
DROP_INTERCEPT = -4.0  # baseline weekly hazard ≈ 2 % for an average participant who used the app ≥ 4 days
DROP_MOTIVATION = -0.6  # motivated participants stay
DROP_LOW_USE = 0.35  # per day below 4 days of use in the week just finished
DROP_AGE_PER_10Y = -0.15  # younger participants leave more often

# --------------------------------------------------------------------------- outcome
NATURAL_CHANGE = -3.0  # points, both arms: natural course + regression to the mean
MOTIVATION_CHANGE = -1.5  # points per SD of motivation, both arms (NOT a treatment effect)
BASELINE_PULL = -0.25  # points per point above the mean baseline (higher starts fall more)
TREATMENT_EFFECT_FULL = -3.5  # points for 100 % adherence in the treatment arm; scales linearly
OUTCOME_NOISE_SD = 4.5  # points, individual variation

# --------------------------------------------------------------------------- documented ranges
EXPECTED_DROPOUT_RANGE = (0.20, 0.35)  # share of participants who drop out
EXPECTED_DIFF_RANGE = (-4.0, -1.0)  # completers: mean change, treatment − control (points)
EXPECTED_D_RANGE = (0.20, 0.80)  # |Cohen's d| of that difference: a modest effect

COLUMNS = (
    ["participant_id", "arm", "age", "sex", "baseline_score"]
    + ENGAGEMENT_COLUMNS
    + ["active_days", "adherence", "dropout_week", "completed", "outcome_w12"]
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _block_randomise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1 = treatment, 0 = control, in permuted blocks of BLOCK_SIZE."""
    n_blocks = -(-n // BLOCK_SIZE)
    block = np.array([0, 1] * (BLOCK_SIZE // 2))
    allocation = np.concatenate([rng.permutation(block) for _ in range(n_blocks)])
    return allocation[:n]


def _truncated_normal(rng, mean, sd, low, high, size) -> np.ndarray:
    """Normal draws redrawn until inside [low, high] (rejection sampling)."""
    values = rng.normal(mean, sd, size)
    bad = (values < low) | (values > high)
    while bad.any():
        values[bad] = rng.normal(mean, sd, bad.sum())
        bad = (values < low) | (values > high)
    return values


def synthetic_cohort(n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """A synthetic 12-week DTx trial with ``n`` participants (same ``seed`` → same data).

    See the module docstring for the columns and every assumption.
    """
    if n < BLOCK_SIZE:
        raise ValueError(f"n must be at least {BLOCK_SIZE} (one randomisation block)")
    rng = np.random.default_rng(seed)

    treated = _block_randomise(n, rng)
    age = np.rint(_truncated_normal(rng, AGE_MEAN, AGE_SD, AGE_MIN, AGE_MAX, n)).astype("int64")
    female = rng.random(n) < SHARE_FEMALE
    baseline = np.rint(
        _truncated_normal(rng, BASELINE_MEAN, BASELINE_SD, INCLUSION_MIN - 0.49, SCORE_MAX + 0.49, n)
    ).astype("int64")
    motivation = rng.normal(0.0, 1.0, n)  # hidden: never returned
    age10 = (age - AGE_MEAN) / 10.0

    # Weekly use and drop-out, one week at a time (12 vectorised steps).
    engagement = np.zeros((n, N_WEEKS), dtype="int64")
    active = np.ones(n, dtype=bool)
    dropout_week = np.full(n, -1, dtype="int64")
    for w in range(N_WEEKS):
        p_use = _sigmoid(ENG_INTERCEPT + ENG_MOTIVATION * motivation + ENG_AGE_PER_10Y * age10 + ENG_WEEKLY_DECAY * w)
        days = rng.binomial(DAYS_PER_WEEK, p_use)
        engagement[:, w] = np.where(active, days, 0)
        if w < N_WEEKS - 1:
            low_use = np.clip(4 - engagement[:, w], 0, None)
            hazard = _sigmoid(
                DROP_INTERCEPT + DROP_MOTIVATION * motivation + DROP_LOW_USE * low_use + DROP_AGE_PER_10Y * age10
            )
            leaves = active & (rng.random(n) < hazard)
            dropout_week[leaves] = w + 1
            active &= ~leaves

    active_days = engagement.sum(axis=1)
    adherence = active_days / (N_WEEKS * DAYS_PER_WEEK)

    change = (
        NATURAL_CHANGE
        + MOTIVATION_CHANGE * motivation
        + BASELINE_PULL * (baseline - BASELINE_MEAN)
        + TREATMENT_EFFECT_FULL * adherence * treated
        + rng.normal(0.0, OUTCOME_NOISE_SD, n)
    )
    outcome = np.clip(np.rint(baseline + change), 0, SCORE_MAX).astype("float64")
    completed = dropout_week < 0
    outcome[~completed] = np.nan

    frame = pd.DataFrame(
        {
            "participant_id": [f"P{i:04d}" for i in range(1, n + 1)],
            "arm": pd.Categorical(np.where(treated == 1, ARMS[1], ARMS[0]), categories=list(ARMS)),
            "age": age,
            "sex": pd.Categorical(np.where(female, "여", "남"), categories=["여", "남"]),
            "baseline_score": baseline,
        }
    )
    weekly = pd.DataFrame(engagement, columns=ENGAGEMENT_COLUMNS)
    frame = pd.concat([frame, weekly], axis=1)
    frame["active_days"] = active_days.astype("int64")
    frame["adherence"] = adherence.astype("float64")
    frame["dropout_week"] = pd.array(np.where(completed, pd.NA, dropout_week), dtype="Int64")
    frame["completed"] = completed
    frame["outcome_w12"] = outcome
    return frame[COLUMNS]


def weekly_long(cohort: pd.DataFrame) -> pd.DataFrame:
    """The weekly engagement columns as a long table: participant_id, arm, week (1–12), days."""
    long = cohort.melt(
        id_vars=["participant_id", "arm"], value_vars=ENGAGEMENT_COLUMNS, var_name="week", value_name="days"
    )
    long["week"] = long["week"].str[-2:].astype("int64")
    return long


ASSUMPTIONS_KO = {
    "BLOCK_SIZE": "무작위 배정 블록 크기 (블록마다 치료군 2명·대조군 2명)",
    "AGE_MEAN": "나이 평균 (세, 자르기 전)",
    "AGE_SD": "나이 표준편차 (세)",
    "AGE_MIN": "참여 가능한 최소 나이 (세)",
    "AGE_MAX": "참여 가능한 최대 나이 (세)",
    "SHARE_FEMALE": "여성 비율",
    "INCLUSION_MIN": "참여 기준: 기초 증상 점수 최솟값 (0–28점 척도)",
    "SCORE_MAX": "증상 점수 최댓값 (높을수록 나쁨)",
    "BASELINE_MEAN": "기초 증상 점수 평균 (자르기 전)",
    "BASELINE_SD": "기초 증상 점수 표준편차",
    "ENG_INTERCEPT": "1주차 하루 사용 확률의 로짓 (평균적인 참여자)",
    "ENG_MOTIVATION": "숨은 '동기' 1 표준편차당 사용 확률 로짓 증가",
    "ENG_AGE_PER_10Y": "10세 많을 때 사용 확률 로짓 증가",
    "ENG_WEEKLY_DECAY": "한 주 지날 때마다 사용 확률 로짓 변화 (흥미 감소)",
    "DROP_INTERCEPT": "주간 중도 탈락 위험의 로짓 기준값",
    "DROP_MOTIVATION": "동기 1 표준편차당 탈락 위험 로짓 변화",
    "DROP_LOW_USE": "그 주 사용일이 4일보다 하루 적을 때마다 탈락 위험 로짓 증가",
    "DROP_AGE_PER_10Y": "10세 많을 때 탈락 위험 로짓 변화",
    "NATURAL_CHANGE": "두 군 공통 자연 변화 (점, 평균으로의 회귀 포함)",
    "MOTIVATION_CHANGE": "동기 1 표준편차당 점수 변화 (두 군 공통, 치료 효과 아님)",
    "BASELINE_PULL": "기초 점수가 평균보다 1점 높을 때 추가 변화 (점)",
    "TREATMENT_EFFECT_FULL": "치료군에서 순응도 100%일 때 치료 효과 (점, 순응도에 비례)",
    "OUTCOME_NOISE_SD": "개인차 (12주 점수 변화의 잡음 표준편차, 점)",
}


def assumptions() -> pd.DataFrame:
    """The generator's named assumptions as a table (name, value, 설명) for lessons to print."""
    return pd.DataFrame(
        {
            "name": list(ASSUMPTIONS_KO),
            "value": pd.Series([globals()[name] for name in ASSUMPTIONS_KO], dtype=object),
            "설명": list(ASSUMPTIONS_KO.values()),
        }
    )
