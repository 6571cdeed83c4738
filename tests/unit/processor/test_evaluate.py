"""The evaluation command on a small corpus in the documented format (id, story, ...)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.processor.evaluate import load, main

LINES = [
    ("1", "outage", "Nimbus Cloud outage takes down object storage in Virginia"),
    ("2", "outage", "Nimbus Cloud says the Virginia storage outage is over"),
    ("3", "outage", "Postmortem: a bad DNS push caused the Nimbus Cloud outage"),
    ("4", "rates", "Bank of Eldoria cuts its policy rate by 25 basis points"),
    ("5", "rates", "Eldoria's central bank lowers rates, markets rally"),
    ("6", "rates", "Bank of Eldoria governor explains the quarter-point cut"),
    ("7", "noise-1", "My sourdough starter finally doubled overnight"),
]


def _corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    rows = [
        {
            "id": ident,
            "story": story,
            "source": "rss",
            "title": title,
            "text": "",
            "published_at": f"2026-11-18T{int(ident):02d}:00:00Z",
            "score": None,
            "comments": None,
        }
        for ident, story, title in LINES
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return path


def test_the_documented_format_loads(tmp_path: Path) -> None:
    corpus = load(_corpus(tmp_path))
    assert [(e.item.source_id, e.story) for e in corpus][:2] == [("1", "outage"), ("2", "outage")]


def test_the_command_prints_the_measures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(_corpus(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("purity 1.0000  adjusted Rand index 1.0000")
    assert "2 topics:" in out
