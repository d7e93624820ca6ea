"""The Hub client against a misbehaving server on 127.0.0.1: it never hangs, never loops, never
waits past its cap, and never shows or sends the token where it should not."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hubpulse.ingest.crawl import CrawlScope, crawl_models, start_crawl
from hubpulse.ingest.hub import Hub, HubError, Politeness
from hubpulse.store.queries import list_rejects
from hubpulse.store.warehouse import Warehouse

TOKEN = "hf_" + "Ab3" * 12
QUICK = Politeness(base_wait=0.01, max_wait=0.05, retries=1, timeout=0.5)
Answer = Callable[[BaseHTTPRequestHandler, str], None]


@contextmanager
def stub(answer: Answer) -> Iterator[tuple[str, list[str]]]:
    """A server answering every GET with ``answer(handler, base_url)``; the paths it was asked."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            asked.append(self.path)
            answer(self, base)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, asked
    finally:
        server.shutdown()
        server.server_close()


def reply(handler: BaseHTTPRequestHandler, status: int, body: object, **headers: str) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for key, value in headers.items():
        handler.send_header(key.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(data)


def crawl(base: str, tmp_path: Path) -> None:
    state_dir = start_crawl(tmp_path, CrawlScope(authors=["org"]))
    crawl_models(Hub(base, QUICK), state_dir)


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(HubError, match="api/models"):
            crawl(base, tmp_path)
    assert time.monotonic() - start < 20


def test_a_rate_limit_past_the_cap_is_not_slept(tmp_path: Path) -> None:
    def limited(handler: BaseHTTPRequestHandler, base: str) -> None:
        reply(handler, 429, {"error": "slow down"}, RateLimit='"api";r=0;t=100000')

    with stub(limited) as (base, asked):
        start = time.monotonic()
        with pytest.raises(HubError, match=r"rate limited for 100001 s more, past the 3600 s"):
            crawl(base, tmp_path)
    assert time.monotonic() - start < 10 and len(asked) == 1


def test_a_next_link_to_the_same_page_is_not_followed_forever(tmp_path: Path) -> None:
    def looping(handler: BaseHTTPRequestHandler, base: str) -> None:
        reply(handler, 200, [], Link=f'<{base}/api/models?cursor=same>; rel="next"')

    repeats = r"next-page link repeats .*api/models"
    with stub(looping) as (base, asked), pytest.raises(HubError, match=repeats):
        crawl(base, tmp_path)
    assert len(asked) <= 3


def test_the_token_is_never_printed_nor_sent_to_another_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)

    def echoing(handler: BaseHTTPRequestHandler, base: str) -> None:
        reply(handler, 403, {"error": f"forbidden for {handler.headers.get('Authorization')}"})

    with stub(echoing) as (base, _), pytest.raises(HubError) as caught:
        crawl(base, tmp_path / "a")
    assert TOKEN not in str(caught.value) and "Bearer ***" in str(caught.value)

    with stub(lambda handler, base: reply(handler, 200, [])) as (elsewhere, visits):

        def elsewhere_next(handler: BaseHTTPRequestHandler, base: str) -> None:
            other = elsewhere.replace("127.0.0.1", "localhost")
            reply(handler, 200, [], Link=f'<{other}/api/models?cursor=2>; rel="next"')

        with stub(elsewhere_next) as (base, _), pytest.raises(HubError, match="is not on"):
            crawl(base, tmp_path / "b")
    assert visits == []  # the other origin was never asked, so never given the token


def test_a_hub_error_body_is_one_line_without_escapes(tmp_path: Path) -> None:
    body = {"error": "bad\nthing \x1b[31mred\x1b[0m\r\n  happened\x07"}

    def shouting(handler: BaseHTTPRequestHandler, base: str) -> None:
        reply(handler, 400, body, X_Error_Code="Odd\x1b[1m")

    with stub(shouting) as (base, _), pytest.raises(HubError) as caught:
        crawl(base, tmp_path)
    said = str(caught.value)
    assert "\n" not in said and "\x1b" not in said and "\x07" not in said, said
    assert "bad thing red happened" in said


def test_a_token_echoed_inside_records_is_never_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)

    def echoing(handler: BaseHTTPRequestHandler, base: str) -> None:
        seen = handler.headers.get("Authorization")
        reply(
            handler,
            200,
            [
                {"_id": "1", "id": "org/echo", "downloads": 1, "cardData": {"note": seen}},
                {"id": f"org/{TOKEN}", "downloads": "not a number"},
            ],
        )

    state_dir = start_crawl(tmp_path, CrawlScope(authors=["org"]))
    with stub(echoing) as (base, _):
        result = crawl_models(Hub(base, QUICK), state_dir)
    stored = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert result.path in stored
    for file in stored:
        assert TOKEN not in file.read_text(errors="replace"), file
    warehouse = Warehouse(tmp_path / "wh")
    warehouse.ingest(result.path, dt.date(2026, 1, 1))
    rejects = list_rejects(warehouse).to_pylist()
    assert rejects and all(TOKEN not in str(r) for r in rejects)
    for table in (tmp_path / "wh").rglob("*.parquet"):
        assert TOKEN.encode() not in table.read_bytes(), table
