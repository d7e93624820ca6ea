"""Dashboard data: what the web pages and the JSON API serve, per snapshot and mode.

Everything reads the snapshot's stored analysis (``snapshot.stored``). A ``View`` computes each
piece on first use with the same library calls as the CLI and the report (``build_report``) and
keeps it: rankings, monthly figures, derivatives, per-model facts for search. A model page
(``web.details``) looks its rows up in the stored tables (each sorted by the key it is looked up
by, so a lookup reads a few row groups) with ``describe_lineage``, the same answer as ``hubpulse
lineage`` (tested), on a cursor of its own (no lock: model pages run in parallel), taking each
model's facts from those in memory once built, then with statements prepared once per view
(``web.lookups``) rather than an expression compiled per lookup; it is remembered.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hubpulse.analysis.history.history import month_range
from hubpulse.analysis.history.trends import family_trend
from hubpulse.analysis.snapshot.dimensions import model_dimensions
from hubpulse.analysis.snapshot.lineage_report import Run
from hubpulse.analysis.snapshot.ranking import model_families
from hubpulse.analysis.snapshot.snapshot import Analysis
from hubpulse.analysis.snapshot.stored import load_analysis, load_later
from hubpulse.errors import SnapshotNotFoundError
from hubpulse.present.report import Report, build_report, source_lines
from hubpulse.present.tables import MODE_NOTE
from hubpulse.settings import Mode, Settings
from hubpulse.store.engines import duckdb_limits
from hubpulse.store.queries import list_snapshots, partial_extract_warning
from hubpulse.store.warehouse import Warehouse, open_store
from hubpulse.web.lookups import Statements

MEMO_SIZE = 1024
WARMER = "hubpulse-warm"  # the name of a thread building a view's pieces in the background
WARMED = ("span", "provenance", "models", "official", "report", "trends")
"""The pieces a new view builds in the background, cheapest first."""

log = logging.getLogger("hubpulse")


@dataclass(frozen=True)
class View:
    """One snapshot under one mode. What a page needs is built on first use and then kept:
    a request that needs only a ranking never waits for the monthly history or the graph.

    The costly pieces (``WARMED``) are also built in the background as soon as the view is
    made (``warm``), on a DuckDB connection of its own: a request that needs one of them
    waits for that build, never for another request's, and a request that needs none of them
    (a ranking, a model's page) is answered meanwhile on the dashboard's connection."""

    analysis: Analysis
    mode: Mode
    settings: Settings
    store: Warehouse
    months_back: int
    engine: threading.RLock  # the dashboard's lock: one DuckDB connection
    memo: OrderedDict[Any, Any] = field(default_factory=OrderedDict)  # rendered pieces
    memo_lock: threading.Lock = field(default_factory=threading.Lock)
    pieces: dict[str, Any] = field(default_factory=dict)  # built pieces, by name
    building: dict[str, threading.Event] = field(default_factory=dict)  # set when done

    def piece(self, name: str, make: Callable[[], Any]) -> Any:
        """The piece ``name``: kept, or being built (then waited for), or ``make()`` now."""
        while True:
            with self.memo_lock:
                if name in self.pieces:
                    return self.pieces[name]
                done = self.building.get(name)
                if done is None:
                    done = self.building[name] = threading.Event()
                    break
            done.wait()  # built by another thread; if that failed, build it here
        try:
            value = make()
            with self.memo_lock:
                self.pieces[name] = value
            return value
        finally:
            with self.memo_lock:
                self.building.pop(name, None)
            done.set()

    @property
    def span(self) -> tuple[str, str] | None:
        """The months the monthly figures cover (None: the warehouse holds no history)."""
        return self.piece("span", self._span)  # type: ignore[no-any-return]

    def _span(self) -> tuple[str, str] | None:
        with self.engine:
            return month_range(self.store, self.settings, None, self.months_back)

    @property
    def provenance(self) -> dict[str, Any]:
        """What the warehouse holds (one line per snapshot and series layout), how many models
        this snapshot has, and the partial-extract warning when it cannot be the whole Hub."""
        return self.piece("provenance", self._provenance)  # type: ignore[no-any-return]

    def _provenance(self) -> dict[str, Any]:
        with self.engine:
            models = int(self.analysis.models.count().to_pyarrow().as_py())
            lines = source_lines(self.store)
        return {
            "snapshot_models": models,
            "warning": partial_extract_warning(models),
            "sources": lines,
        }

    @property
    def report(self) -> Report:
        """The report's figures (rankings, derivatives, monthly history, concentration)."""
        return self.piece("report", self._report)  # type: ignore[no-any-return]

    def _report(self) -> Report:
        settings = self.settings.model_copy(update={"mode": self.mode})
        with self.engine:
            return build_report(
                settings,
                date=self.analysis.snapshot_date,
                months=self.months_back,
                warehouse=self.store,
                analysis=self.analysis,
            )

    @property
    def models(self) -> pd.DataFrame:
        """Per-model facts (downloads, size, families, descendants), indexed by model_id."""
        return self.piece("models", self._models)

    def _models(self) -> pd.DataFrame:
        with self.engine:
            frame = model_facts(self.analysis, self.mode)
        frame.index.get_indexer(frame.index[:1])  # builds the index's hash table once, here
        return frame

    @cached_property
    def search_keys(self) -> pa.Array:
        """Lower-case model ids, most downloaded first, for substring search."""
        return pc.utf8_lower(pa.array(self.models["model_id"], pa.string()))

    @property
    def official(self) -> pd.DataFrame:
        """owner (family), model_id, downloads_30d, ...: first-party repos."""
        return self.piece("official", self._official)

    def _official(self) -> pd.DataFrame:
        dims = model_dimensions(self.analysis)
        owned = dims.filter(dims.publisher.notnull()).select("model_id", owner=dims.publisher)
        with self.engine:
            owners = owned.to_pyarrow().to_pandas()
        official = owners.merge(self.models.reset_index(drop=True), on="model_id")
        return official.sort_values(["downloads_30d", "model_id"], ascending=[False, True])

    @property
    def trends(self) -> dict[str, list[dict[str, Any]]]:
        """family → monthly rows with growth."""
        return self.piece("trends", self._trends)  # type: ignore[no-any-return]

    def _trends(self) -> dict[str, list[dict[str, Any]]]:
        trends: dict[str, list[dict[str, Any]]] = {}
        monthly_rows = self.report.data["monthly"]
        if monthly_rows:
            rows = pa.Table.from_pylist(monthly_rows)  # keeps whole numbers whole
            rows = rows.cast(
                pa.schema(
                    [
                        pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                        for f in rows.schema
                    ]
                )
            )
            monthly = ibis.memtable(rows)
            names = sorted({r["family"] for r in monthly_rows})
            trend = family_trend(monthly, names, self.settings.min_coverage)
            with self.engine:  # on this view's connection, not Ibis's shared default one,
                # which a view built in the background would use at the same time
                for row in self.store.reader.to_pyarrow(trend).to_pylist():
                    trends.setdefault(row["family"], []).append(clean_row(row))
        return trends

    @contextlib.contextmanager
    def cursor(self) -> Iterator[Run]:
        """A query runner on a cursor of its own (DuckDB runs cursors of one database in
        parallel): a request made of lookups in the stored tables takes no lock, so it never
        queues behind another request's."""
        with self.raw_cursor() as con:
            yield ibis.duckdb.from_connection(con).to_pyarrow

    @contextlib.contextmanager
    def raw_cursor(self) -> Iterator[Any]:
        """A DuckDB cursor of its own (see ``cursor``), for statements prepared once."""
        con = self.store.reader.con.cursor()  # type: ignore[attr-defined]
        try:
            yield con
        finally:
            con.close()

    @cached_property
    def statements(self) -> Statements | None:
        """The model page's lookups over the stored lineage (``web.lookups``)."""
        return Statements.of(self.analysis.lineage)

    def facts_of(self, ids: list[str]) -> pa.Table:
        """model_id, author, downloads_30d, base_relation of the given models, read from the
        facts in memory (``models``; the caller checks they are built) by position: a page
        takes a few rows of four columns, not a frame of every column."""
        frame: pd.DataFrame = self.pieces["models"]
        at = frame.index.get_indexer(pd.Index(ids))
        return pa.table(
            {
                "model_id": _taken(frame, "model_id", at, pa.string()),
                "author": _taken(frame, "author", at, pa.string()),
                "downloads_30d": _taken(frame, "downloads_30d", at, pa.int64()),
                "base_relation": _taken(frame, "relation", at, pa.string()),
            }
        )

    def remember(self, key: Any, make: Callable[[], Any]) -> Any:
        """``make()`` once per key, keeping the ``MEMO_SIZE`` most recently used results
        (charts, family details, comparisons, model pages)."""
        with self.memo_lock:
            if key in self.memo:
                self.memo.move_to_end(key)
                return self.memo[key]
        value = make()
        with self.memo_lock:
            self.memo[key] = value
            while len(self.memo) > MEMO_SIZE:
                self.memo.popitem(last=False)
        return value


class Dashboard:
    """The warehouse's precomputed views, built lazily per (snapshot, mode) and kept until the
    warehouse changes: every request first compares the warehouse's version (its published
    snapshots and series loads) with the one the views were built from, and starts afresh when
    an ingest, a --replace or an import changed it."""

    def __init__(self, settings: Settings, *, months: int = 24, warm: bool = True) -> None:
        self.settings = settings
        self.months = months
        self.warm = warm  # build each new view's costly pieces in the background
        self._lock = threading.RLock()
        self._open()
        if not self.dates:
            raise SnapshotNotFoundError(
                f"no snapshots in {settings.warehouse}: run `hubpulse ingest` or `hubpulse demo`"
            )

    def _open(self) -> None:
        old: Warehouse | None = getattr(self, "store", None)
        if old is not None:  # what the old views read may go once they are dropped
            old.release()
        self.store = open_store(self.settings, engine="duckdb")
        self.version = self.store.version()
        self.dates = self.store.snapshot_dates()
        self._analyses: dict[dt.date, Analysis] = {}
        self._views: dict[tuple[dt.date, Mode], View] = {}

    def _current(self) -> None:
        """Reopen the warehouse if it changed since the views were built (hold the lock)."""
        if self.store.version() != self.version:
            self._open()

    def date(self, date: dt.date | None) -> dt.date:
        if date is None:
            return self.dates[-1]
        if date not in self.dates:
            known = ", ".join(d.isoformat() for d in self.dates)
            raise SnapshotNotFoundError(f"no snapshot dated {date}; stored: {known}")
        return date

    def view(self, date: dt.date | None = None, mode: Mode | None = None) -> View:
        """The view of a snapshot and mode. A view already made is found without the lock (a
        warm page never queues behind a cold one); a new one is made under it."""
        if self.store.version() == self.version:  # reads the file system, not the engine
            found = self._views.get((self.date(date), mode or self.settings.mode))
            if found is not None:
                return found
        with self._lock:
            self._current()
            key = (self.date(date), mode or self.settings.mode)
            if key not in self._views:
                self._views[key] = self._build(*key)
                if self.warm:
                    view = self._views[key]
                    threading.Thread(target=warm, args=(view,), name=WARMER, daemon=True).start()
            return self._views[key]

    def locked(self) -> threading.RLock:
        """Hold while running engine queries: the warehouse has one DuckDB connection, so every
        use of it, by any route, takes this one lock (two disciplines deadlocked: a request
        holding the lock waited for DuckDB while another held DuckDB waiting for the lock)."""
        return self._lock

    def snapshots(self) -> list[dict[str, Any]]:
        """The load log of the stored snapshots (as ``hubpulse snapshots``)."""
        with self._lock:
            self._current()
            return list_snapshots(self.store).drop_columns(["file_sha256"]).to_pylist()

    def _build(self, date: dt.date, mode: Mode) -> View:
        if date not in self._analyses:
            analysis = load_analysis(self.settings, date, self.store)
            load_later(analysis)  # under the lock: no request registers tables later
            self._analyses[date] = analysis
        return View(
            self._analyses[date],
            mode,
            self.settings,
            self.store,
            self.months,
            self._lock,
        )


def warm(view: View) -> None:
    """Build ``view``'s ``WARMED`` pieces on a DuckDB connection of its own, with one thread
    (the other cores answer requests meanwhile); a piece a request is already building is
    left to it. A failure only means the pieces are built on first use."""
    settings = view.settings.model_copy(update={"duckdb_threads": 1})
    store = None
    try:
        # not Ibis's default connection: the request threads' memtable queries stay off it
        store = Warehouse(settings.warehouse, limits=duckdb_limits(settings), default=False)
        analysis = load_analysis(settings, view.analysis.snapshot_date, store)
        shadow = View(analysis, view.mode, settings, store, view.months_back, threading.RLock())
        for name in WARMED:
            view.piece(name, lambda name=name: getattr(shadow, name))  # type: ignore[misc]
    except Exception as exc:
        log.warning("building the dashboard's pages in the background failed: %s", exc)
    finally:
        if store is not None:
            store.release()


def _taken(frame: pd.DataFrame, column: str, at: np.ndarray, kind: pa.DataType) -> pa.Array:
    """The values of ``column`` at the positions ``at`` (-1: not held, skipped)."""
    taken = frame[column].array.take(at[at >= 0])  # a few values, whatever the column holds
    return pa.array(taken.to_numpy(), kind, from_pandas=True)


def model_facts(
    analysis: Analysis, mode: Mode, model_id: str | None = None, run: Run | None = None
) -> pd.DataFrame:
    """Per-model facts from the stored dimensions (one model's row when ``model_id`` is given:
    a lookup in the stored tables, which are sorted by model id), run by ``run`` (default: on
    the tables' own backend)."""
    dims, models = model_dimensions(analysis), analysis.models
    families = model_families(analysis, mode)
    if model_id is not None:
        dims = dims.filter(dims.model_id == model_id)
        models = models.filter(models.model_id == model_id)
        families = families.filter(families.model_id == model_id)
    extra = models.select("model_id", "created_at", "pipeline_tag", "library_name")
    joined = dims.join(extra, "model_id")
    facts = joined.select(
        "model_id",
        "author",
        "created_at",
        "pipeline_tag",
        "library_name",
        downloads_30d=joined.downloads_30d.fill_null(0),
        downloads_all_time=joined.downloads_all_time,
        likes=joined.likes.fill_null(0),
        params=joined.params,
        size=joined.size,
        relation=joined.base_relation,
        descendants=joined.descendants,
    )
    facts = facts.left_join(families, "model_id").drop("model_id_right")
    facts = facts.relocate("family", before="descendants")
    frame = (run(facts) if run else facts.to_pyarrow()).to_pandas()
    return frame.sort_values(["downloads_30d", "model_id"], ascending=[False, True]).set_index(
        "model_id", drop=False
    )


def clean_row(row: dict[str, Any]) -> dict[str, Any]:
    """pandas values → JSON values (NaN/NaT → None, timestamps → ISO text, numpy → Python)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
            out[key] = None
        elif isinstance(value, dt.datetime | dt.date):
            out[key] = value.isoformat()
        elif hasattr(value, "item"):
            out[key] = value.item()
        else:
            out[key] = value
    return out


def view_meta(view: View) -> dict[str, Any]:
    """What every answer states: snapshot date, mode and its method, months held, what the
    warehouse holds and any partial-extract warning."""
    return {
        "snapshot_date": view.analysis.snapshot_date.isoformat(),
        "mode": view.mode,
        "method": MODE_NOTE[view.mode],
        "months": f"{view.span[0]} … {view.span[1]}" if view.span else None,
        **view.provenance,
    }
