"""The README stays true: every setting's variable is documented, the test command is CI's."""

from __future__ import annotations

from pathlib import Path

from streams.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_variable_is_in_the_configuration_table() -> None:
    rows = {
        line.split("|")[1].strip().strip("`")
        for line in README.splitlines()
        if line.startswith("| `")
    }
    assert {name.upper() for name in Settings.model_fields} <= rows


def test_ci_runs_the_readme_test_command() -> None:
    assert "```sh\nscripts/test\n```" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.rstrip().splitlines()[-1] == "scripts/test"
