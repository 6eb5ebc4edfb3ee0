"""A bad or unreachable URL must give one clear line naming the setting, never the password."""

import subprocess
import sys

import pytest


def waybill(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sync_assets.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://waybill:s3cret-pw@127.0.0.1:1/erp", "WAYBILL_ERP_URL: cannot connect to postgresql://waybill:***@127.0.0.1:1/erp"),
        ("postgresql://waybill@127.0.0.1:1/erp?password=s3cret-pw&sslmode=disable",
         "WAYBILL_ERP_URL: cannot connect to postgresql://waybill@127.0.0.1:1/erp?password=***&sslmode=disable"),
        ("mysql://waybill:s3cret-pw@127.0.0.1/erp", "WAYBILL_ERP_URL: mysql://waybill:***@127.0.0.1/erp is not a PostgreSQL URL"),
        ("not a url s3cret-pw", "WAYBILL_ERP_URL: not a URL"),
    ],
)
def test_bad_source_url_is_one_line_naming_the_setting(landscape_env, monkeypatch, url, expected):
    monkeypatch.setenv("WAYBILL_ERP_URL", url)
    result = waybill("master-data")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"waybill: error: {expected}")
    assert "s3cret-pw" not in result.stderr + result.stdout



@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("1999-12-31", "waybill: error: --date 1999-12-31: outside the nightly partitions (2000-01-01 to a year from today)"),
        ("31.10.2026", "Invalid value for '--date'"),
    ],
)
def test_nightly_refuses_a_day_it_cannot_run(date, expected):
    result = waybill("nightly", "--date", date)
    assert result.returncode == 2
    assert expected in result.stderr
