"""`--db postgresql://…` for run, export, users and the review app, on a real PostgreSQL server
(psycopg 3; a plain postgresql:// URL picks it)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from pipeline.cli import main
from pipeline.store.db import Database, database_url
from pipeline.store.tables import OcrCacheRow, RunRow
from tests import badinputs as bad
from tests import faults


@pytest.fixture(scope="module")
def models_dir(request: pytest.FixtureRequest) -> Path:
    return bad.verdict_models_dir(Path(request.config.cache.mkdir("letters-test-verdict-model")))


def test_plain_postgresql_url_uses_psycopg3() -> None:
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgres://u@h:5433/db") == "postgresql+psycopg://u@h:5433/db"
    assert database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


@pytest.mark.slow
def test_run_export_users_and_review_on_postgresql(pg_url: str, tmp_path: Path, models_dir: Path) -> None:
    url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    inbox, registry = faults.small_batch(tmp_path, n=2)
    bad.write_text_image(inbox / "scan.png", bad.letter_lines(7))  # OCR'd: its page goes to the OCR cache
    runner = CliRunner()
    args = ["run", str(inbox), "--promises", str(registry), "--out", str(tmp_path / "out"), "--db", url,
            "--models", str(models_dir), "--workers", "2"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "out" / "letters.db").exists()
    assert len(pd.read_csv(tmp_path / "out" / "letters.csv")) == 3
    result = runner.invoke(main, args + ["--force"])  # again: the OCR cache is read back from PostgreSQL
    assert result.exit_code == 0, result.output
    db = Database(url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(OcrCacheRow)) == 1
        assert {r.status for r in s.scalars(select(RunRow))} == {"finished"}
    db.close()
    result = runner.invoke(main, ["export", "--db", url, "--out", str(tmp_path / "exported")])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "exported" / "letters.csv")) == 3
    result = runner.invoke(main, ["users", "add", "olena", "--role", "admin", "--db", url, "--password-stdin"],
                           input="a-long-password-1\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["users", "list", "--db", url])
    assert result.exit_code == 0 and "olena\tadmin\tactive" in result.output

    from fastapi.testclient import TestClient

    from pipeline.review.app import create_app

    with TestClient(create_app(url, secret_key="k" * 40)) as client:
        page = client.get("/login")
        assert page.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        login = client.post("/login", data={"name": "olena", "password": "a-long-password-1", "csrf_token": token},
                            follow_redirects=False)
        assert login.status_code in (302, 303), login.text[:300]
        queue = client.get("/queue")
        assert queue.status_code == 200 and "scan.png" in queue.text
