"""An item's facts: the key, the row, the content hash, the embedded text, the vector payload."""

from __future__ import annotations

from datetime import UTC, datetime

from services.processor.pipeline import PipelineConfig
from services.processor.pipeline.embed import HashingEmbedder, Vectors
from services.processor.pipeline.enrich import Enricher
from services.processor.store import _INSERT
from streams.messages.items import (
    ROW_COLUMNS,
    ROW_SELECT,
    content_hash,
    embedding_text,
    item_key,
    item_row,
    key_sql,
    row_fields,
    split_key,
    vector_payload,
)
from streams.messages.records import RawItem
from tests.factories import make_item

AT = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)


def test_the_key_round_trips_even_with_the_separator_in_the_id() -> None:
    assert item_key("mastodon", "https://m.social/@a:1") == "mastodon:https://m.social/@a:1"
    assert split_key(item_key("mastodon", "https://m.social/@a:1")) == (
        "mastodon",
        "https://m.social/@a:1",
    )
    item = make_item(source="rss", source_id="feed:42")
    assert item.key == "rss:feed:42"
    assert split_key(item.key) == ("rss", "feed:42")


def test_the_key_in_sql_is_the_same_expression() -> None:
    assert key_sql() == "source || ':' || source_id"
    assert key_sql("items") == "items.source || ':' || items.source_id"


def test_the_content_hash_ignores_case_and_whitespace() -> None:
    assert content_hash("Nimbus  is DOWN", "") == content_hash("nimbus is down", "")
    assert content_hash("STRASSE gesperrt", "x") == content_hash("straße  gesperrt", "X")
    assert content_hash("Nimbus is down", "") != content_hash("Stratus is down", "")


def test_a_row_holds_every_column_in_order_and_reads_back_as_the_item() -> None:
    item = make_item(title="Rates cut", text="The bank cut.", engagement={"likes": 3.0})
    row = dict(zip((column for column, _ in ROW_COLUMNS), item_row(item, "abc"), strict=True))
    assert row["body"] == "The bank cut."
    assert row["content_hash"] == "abc"
    assert row["engagement"] == '{"likes": 3.0}'
    selected = {("text" if k == "body" else k): v for k, v in row.items() if k != "content_hash"}
    assert RawItem.parse(row_fields({**selected, "id": 7})) == item
    assert "body AS text" in ROW_SELECT
    assert "content_hash" not in ROW_SELECT


def test_the_store_inserts_the_row_layout() -> None:
    names = ", ".join(column for column, _ in ROW_COLUMNS)
    assert f"INSERT INTO items ({names})" in _INSERT
    assert f"${len(ROW_COLUMNS)}::timestamptz[]" in _INSERT


class _Recorder(HashingEmbedder):
    """A hashing embedder that remembers the texts it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts: list[str]) -> Vectors:
        self.texts += texts
        return super().encode(texts)


def test_the_embedded_text_is_the_one_the_enrich_stage_embeds() -> None:
    config = PipelineConfig(embed_max_chars=40)
    embedder = _Recorder()
    enricher = Enricher(config, embedder)
    raw = [
        make_item(source_id="1", title="Bank of <b>Eldoria</b> cuts rates", text="The cut " * 20),
        make_item(source_id="2", title="Nimbus is down", text="Nimbus is down for everyone"),
    ]
    kept, _ = enricher.normalize(raw)
    enricher.enrich(kept)
    expected = [embedding_text(item.title, item.text, 40) for item in kept]
    assert embedder.texts == expected
    assert expected[1] == "Nimbus is down for everyone"
    assert expected[0] == "Bank of Eldoria cuts rates\nThe cut The c"
    assert all(len(text) <= 40 for text in expected)


def test_the_vector_payload_names_the_item_and_its_time() -> None:
    payload = vector_payload("rss:1", AT)
    assert payload == {"item": "rss:1", "ts": AT.timestamp()}
    assert payload["ts"] == 1_794_924_000.0
