"""Late policy and extensions (grading/policy.yml), applied from submission timestamps.

    timezone: Asia/Seoul            # due dates are local times
    grace_minutes: 15
    penalty_per_day_percent: 10     # per started day after due + grace
    max_penalty_percent: 50
    assignments:
      02-pandas-basics: {due: "2026-12-05 23:59"}
    extensions:                     # a new due date for one student
      02-pandas-basics: {student-007: "2026-12-08 23:59"}

Changing a due date or an extension and re-running `academy report` recomputes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from academy import config


@dataclass
class Lateness:
    due: datetime | None
    submitted: datetime | None
    late_days: int
    penalty_percent: float
    extended: bool


def policy_path() -> Path:
    return config.project_root() / "grading" / "policy.yml"


def load(path: Path | None = None) -> dict:
    path = Path(path or policy_path())
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def parse_timestamp(text: str) -> datetime | None:
    """nbgrader writes 'YYYY-MM-DD HH:MM:SS.ffffff UTC'."""
    if not text:
        return None
    cleaned = text.strip().replace(" UTC", "").replace("Z", "")
    try:
        stamp = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _local(text: str, zone: ZoneInfo) -> datetime:
    stamp = datetime.fromisoformat(str(text))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=zone)


def lateness(policy: dict, assignment: str, student: str, timestamp: str) -> Lateness:
    zone = ZoneInfo(policy.get("timezone", "Asia/Seoul"))
    submitted = parse_timestamp(timestamp)
    due_text = (policy.get("assignments", {}).get(assignment) or {}).get("due")
    extension = (policy.get("extensions", {}).get(assignment) or {}).get(student)
    if extension:
        due_text = extension
    if not due_text or submitted is None:
        return Lateness(None, submitted, 0, 0.0, bool(extension))
    due = _local(due_text, zone)
    grace = timedelta(minutes=float(policy.get("grace_minutes", 0)))
    overdue = submitted - (due + grace)
    if overdue <= timedelta(0):
        return Lateness(due, submitted, 0, 0.0, bool(extension))
    days = math.ceil(overdue / timedelta(days=1))
    penalty = min(float(policy.get("max_penalty_percent", 100)), days * float(policy.get("penalty_per_day_percent", 0)))
    return Lateness(due, submitted, days, penalty, bool(extension))
