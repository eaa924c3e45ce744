"""Schedules are checked by Argo's cron parser rules (robfig/cron v3 ParseStandard) at declaration: what croniter
takes but Argo refuses at submit fails in ``schedule(...)`` with one line."""

from __future__ import annotations

import pytest
from croniter import croniter

from assets_core.cron_syntax import argo_cron_problem
from assets_core.errors import DefinitionError
from assets_core.schedules import schedule


@pytest.mark.parametrize(
    "cron, problem",
    [
        ("0 2 * * 7", "day of week field: end of range (7) above maximum (6): 7"),
        ("0 2 L * *", "day of month field: failed to parse int from L"),
        ("0 2 * * 5#3", "day of week field: failed to parse int from 5#3"),
        ("0 2 15W * *", "day of month field: failed to parse int from 15W"),
        ("0 2 * * 5-1", "day of week field: beginning of range (5) beyond end of range (1): 5-1"),
    ],
)
def test_croniter_accepts_what_argo_refuses(cron: str, problem: str) -> None:
    assert croniter.is_valid(cron)  # the old check let these through
    assert argo_cron_problem(cron) == problem
    with pytest.raises(DefinitionError, match="Argo's cron parser refuses") as caught:
        schedule("nightly", cron=cron)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "cron, problem",
    [
        ("*/0 * * * *", "minute field: step of range should be a positive number: */0"),
        ("0 24 * * *", "hour field: end of range (24) above maximum (23): 24"),
        ("0 2 0 * *", "day of month field: beginning of range (0) below minimum (1): 0"),
        ("0 2 1-2-3 * *", "day of month field: too many hyphens: 1-2-3"),
    ],
)
def test_the_parser_words_problems_like_robfig_cron(cron: str, problem: str) -> None:
    assert argo_cron_problem(cron) == problem


@pytest.mark.parametrize(
    "cron", ["0 2 * * *", "*/15 * * * *", "0 2 * * sun", "0 9-17/2 * JAN-mar MON-FRI", "0 0 1,15 * ?", "5/10 * * * 0"]
)
def test_what_argo_accepts_is_declared(cron: str) -> None:
    assert argo_cron_problem(cron) is None
    assert schedule("nightly", cron=cron).cron == cron
