"""The dashboard never queues a warm page behind a cold one: a view already made answers without
the engine lock, and a new view's costly pieces (monthly figures, the report, per-model facts)
are built in the background on a connection of their own, equal to what a request would build."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from hubpulse.settings import load_settings
from hubpulse.web.app import create_app
from hubpulse.web.views import WARMED, Dashboard


def test_a_warm_page_answers_while_a_cold_one_holds_the_engine(demo_store: Path) -> None:
    board = Dashboard(load_settings(warehouse=demo_store), warm=False)
    client = TestClient(create_app(board.settings, dashboard=board))
    want = client.get("/api/top?by=family&limit=5")
    assert want.status_code == 200
    answered, results = threading.Event(), []

    def ask() -> None:
        results.append(client.get("/api/top?by=family&limit=5"))
        answered.set()

    with board.locked():  # as a cold page building its figures would
        asker = threading.Thread(target=ask)
        asker.start()
        assert answered.wait(60), "the warm page waited for the engine lock"
    asker.join()
    assert results[0].json() == want.json()


def test_a_new_views_pieces_are_built_in_the_background_without_the_lock(
    demo_store: Path, tmp_path: Path
) -> None:
    root = tmp_path / "wh"
    shutil.copytree(demo_store, root, symlinks=True)
    settings = load_settings(warehouse=root)
    board = Dashboard(settings)  # warms each new view
    with board.locked():  # held all along: the background build must not need it
        view = board.view()
        deadline = time.monotonic() + 300
        while not set(WARMED) <= view.pieces.keys() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert set(WARMED) <= view.pieces.keys(), sorted(view.pieces)
    cold = Dashboard(settings, warm=False).view()  # the same pieces built by requests
    assert view.span == cold.span
    assert view.provenance == cold.provenance
    assert view.report.data == cold.report.data
    assert view.trends == cold.trends
    assert view.models.equals(cold.models)
    assert view.official.reset_index(drop=True).equals(cold.official.reset_index(drop=True))
