"""Every source API served from tests/fixtures by a local server, and settings pointing at it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.http import FixtureServer, Reply

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HACKERNEWS_STORIES = {"40211001", "40210876", "40211230", "40207770", "40211412", "40198812"}
"""The stories of the Hacker News fixture (deleted, dead, job and null items left out)."""


def serve_sources(server: FixtureServer) -> dict[str, Any]:
    """Route every fixture; return the settings overrides that point the plugins at the server."""
    _hackernews(server)
    for path in sorted((FIXTURES / "reddit").glob("*.json")):
        sub, listing = path.stem.rsplit("_", 1)
        server.route(f"/r/{sub}/{listing}.json", Reply.file(path))
    server.route(
        "/feeds/tech.xml", Reply.file(FIXTURES / "rss" / "tech.xml", "application/rss+xml")
    )
    server.route(
        "/feeds/blog.atom", Reply.file(FIXTURES / "rss" / "blog.atom", "application/atom+xml")
    )
    server.route(
        "/api/v1/trends/statuses", Reply.file(FIXTURES / "mastodon" / "trends_statuses.json")
    )
    server.route("/api/v1/trends/tags", Reply.file(FIXTURES / "mastodon" / "trends_tags.json"))
    return {
        "hackernews_base_url": server.url,
        "reddit_base_url": server.url,
        "reddit_subreddits": ("technology", "programming"),
        "reddit_listings": ("hot", "new"),
        "rss_feeds": (f"{server.url}/feeds/tech.xml", f"{server.url}/feeds/blog.atom"),
        "mastodon_base_url": server.url,
        "http_timeout_s": 2.0,
        "http_max_retries": 1,
        "http_backoff_s": 0.01,
    }


def _hackernews(server: FixtureServer) -> None:
    folder = FIXTURES / "hackernews"
    for name in ("top", "new", "best"):
        server.route(f"/v0/{name}stories.json", Reply.file(folder / f"{name}stories.json"))
    for path in sorted((folder / "items").glob("*.json")):
        server.route(f"/v0/item/{path.name}", Reply.file(path))
