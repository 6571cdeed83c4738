"""Backups: the password never reaches the command line; missing programs are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.maintenance.backup import BackupError, backup_folder, find_binary, libpq_target
from streams.config import load_settings


def test_the_password_goes_to_the_environment_not_the_arguments() -> None:
    target, env = libpq_target("postgresql://trend:s3cret@127.0.0.1:5432/trend")
    assert target == "postgresql://trend@127.0.0.1:5432/trend"
    assert env == {"PGPASSWORD": "s3cret"}
    assert libpq_target("postgresql://db.local/trend") == ("postgresql://db.local/trend", {})


def test_a_missing_program_is_a_clear_error(tmp_path: Path) -> None:
    settings = load_settings(pg_bin_dir=tmp_path)
    with pytest.raises(BackupError, match=r"pg_dump not found in .*PG_BIN_DIR"):
        find_binary("pg_dump", settings)


def test_backups_go_to_backup_dir_or_the_state_dir(tmp_path: Path) -> None:
    assert backup_folder(load_settings(state_dir=tmp_path)) == tmp_path / "backups"
    assert backup_folder(load_settings(backup_dir=tmp_path / "b")) == tmp_path / "b"
