"""The market view: prices imported (Yahoo-style CSV, yfinance's layout) or pulled through a
stand-in of yfinance at its boundary, monthly adoption beside returns, rank correlations and the
event-study table, checked against plain Python over a synthetic history and synthetic prices
whose relation is known (next month's return = half this month's adoption growth)."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import random
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import cli
from test_spaces import strict_json

from hubpulse.store.warehouse import Warehouse

START, END = dt.date(2024, 1, 1), dt.date(2025, 12, 31)
MODELS = ["Qwen/a", "Qwen/b", "meta-llama/c", "meta-llama/d"]
HEADER = ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]


def history(root: Path) -> dict[str, int]:
    """A warehouse of exact daily counts for two families over two years (and a snapshot);
    Qwen's true downloads per month."""
    rng = random.Random(3)
    src = root.parent / "src"
    src.mkdir(parents=True)
    level = {m: rng.randint(500, 1500) for m in MODELS}
    ids, dates, counts = [], [], []
    qwen: dict[str, int] = defaultdict(int)
    day = START
    while day <= END:
        if day.day == 1:
            for m in MODELS:
                level[m] = max(50, int(level[m] * rng.uniform(0.6, 1.6)))
        for m in MODELS:
            count = level[m] + rng.randint(0, 20)
            ids.append(m), dates.append(day), counts.append(count)
            if m.startswith("Qwen/"):
                qwen[str(day)[:7]] += count
        day += dt.timedelta(days=1)
    pq.write_table(pa.table({"hub_id": ids, "date": dates, "downloads": counts}), src / "d.parquet")
    store = Warehouse(root)
    recent = [(i, d, c) for i, d, c in zip(ids, dates, counts, strict=True) if (END - d).days < 30]
    records = [
        {"id": m, "downloads": sum(c for i, _, c in recent if i == m), "tags": []}
        | {"createdAt": "2023-12-01T00:00:00.000Z"}
        for m in MODELS
    ]
    (src / "snapshot.json").write_text(json.dumps(records))
    store.ingest(src / "snapshot.json", END)
    store.import_series(src / "d.parquet", layout="daily", coverage=(START, END))
    return dict(qwen)


def trading_days(first: dt.date, last: dt.date) -> list[dt.date]:
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return [d for d in days if d.weekday() < 5]


def prices(monthly: dict[str, int], seed: int = 8) -> list[list[str]]:
    """Daily rows whose month-end prices make next month's return half this month's growth;
    other days wander (the month-end is what a monthly return reads)."""
    rng = random.Random(seed)
    months = sorted(monthly)
    close = {months[0]: 100.0, months[1]: 100.0}
    for before, month, after in zip(months, months[1:], months[2:], strict=False):
        growth = monthly[month] / monthly[before] - 1
        close[after] = close[month] * (1 + 0.5 * growth)
    rows = []
    days = trading_days(START, END)
    for i, day in enumerate(days):
        last = i + 1 == len(days) or days[i + 1].month != day.month
        price = close[str(day)[:7]] * (1 if last else rng.uniform(0.9, 1.1))
        rows.append([str(day), *[f"{price:.6f}"] * 4, f"{price:.6f}", str(rng.randint(1, 10**6))])
    return rows


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(rows)
    return path


def spearman(xs: list[float], ys: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(xs, ys).statistic)


def test_adoption_beside_the_return_with_known_relation(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    qwen = history(root)
    rows = prices(qwen)
    flat = [[r[0], "50", "50", "50", "50", "50", "1"] for r in rows]  # a benchmark that never moves
    for path, ticker in ((write_csv(tmp_path / "baba.csv", rows), "BABA"),
                         (write_csv(tmp_path / "index.csv", flat), "IDX")):  # fmt: skip
        loaded = cli("prices", "import", str(path), "--ticker", ticker, "-w", str(root))
        assert loaded.returncode == 0, loaded.stderr
    found = strict_json(
        cli("market", "Qwen", "--benchmark", "IDX", "--mode", "publisher", "-f", "json",
            "-w", str(root)).stdout
    )  # fmt: skip
    assert found["ticker"] == "BABA"  # the registry's ticker for Qwen (Alibaba)
    by_month = {r["month"]: r for r in found["rows"]}
    assert {m: r["estimate"] for m, r in by_month.items()} == qwen
    month_end = {}
    for row in rows:  # the last trading day's close of each month, by plain Python
        month_end[row[0][:7]] = float(row[5])
    months = sorted(qwen)
    for before, month in itertools.pairwise(months):
        expected = month_end[month] / month_end[before] - 1
        assert by_month[month]["return"] == pytest.approx(expected, rel=1e-9)
        assert by_month[month]["excess_return"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        growth = qwen[month] / qwen[before] - 1
        assert by_month[month]["growth"] == pytest.approx(growth, rel=1e-9)
    growth = {m: qwen[m] / qwen[b] - 1 for b, m in itertools.pairwise(months)}
    lags = {c["lag"]: c for c in found["correlations"]}
    for lag in (-1, 0, 1, 2):
        paired = [
            (g, month_end[after] / month_end[previous] - 1)
            for m, g in growth.items()
            if (after := _shift(m, lag)) in month_end
            and (previous := _shift(m, lag - 1)) in month_end
        ]
        assert lags[lag]["months"] == len(paired)
        expected = spearman([p[0] for p in paired], [p[1] for p in paired])
        assert lags[lag]["rho"] == pytest.approx(expected, abs=1e-3)
    assert lags[1]["rho"] == pytest.approx(1.0)  # the relation built in
    assert "not evidence of cause" in found["cause"]
    shown = cli("market", "Alibaba", "--mode", "publisher", "-w", str(root))  # a vendor
    assert shown.returncode == 0, shown.stderr
    assert "not evidence of cause" in " ".join(shown.stdout.split())


def _shift(month: str, by: int) -> str:
    year, number = int(month[:4]), int(month[5:7]) - 1 + by
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def test_event_moves_equal_a_plain_event_study(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    qwen = history(root)
    rows = prices(qwen)
    bench = [[r[0], *[f"{100 + i * 0.5:.2f}"] * 5, "1"] for i, r in enumerate(rows)]
    write_csv(tmp_path / "baba.csv", rows)
    write_csv(tmp_path / "idx.csv", bench)
    for name, ticker in (("baba.csv", "BABA"), ("idx.csv", "IDX")):
        cli("prices", "import", str(tmp_path / name), "--ticker", ticker, "-w", str(root))
    found = strict_json(
        cli("events", "Qwen", "--benchmark", "IDX", "--mode", "publisher", "--at", "1M",
            "--on", "2025-03-15=reported", "--on", "2025-12-31=too late", "-f", "json",
            "-w", str(root)).stdout
    )  # fmt: skip
    close = {dt.date.fromisoformat(r[0]): float(r[5]) for r in rows}
    level = {dt.date.fromisoformat(r[0]): float(r[5]) for r in bench}
    days = sorted(close)
    given = {e["event"]: e for e in found["rows"] if e["kind"] == "given"}
    t = next(i for i, d in enumerate(days) if d >= dt.date(2025, 3, 15))  # 2025-03-17, a Monday
    move = close[days[t + 3]] / close[days[t - 2]] - 1
    bench_move = level[days[t + 3]] / level[days[t - 2]] - 1
    reported = given["reported"]
    assert reported["t"] == "2025-03-17" and reported["from"] == str(days[t - 2])
    assert reported["move"] == pytest.approx(move)
    assert reported["excess_move"] == pytest.approx(move - bench_move)
    assert given["too late"]["move"] is None and "do not cover" in given["too late"]["note"]
    # the milestone: cumulative downloads since January 2024 pass 1M on the estimated day
    running, crossed = 0, None
    for month in sorted(qwen):
        if running + qwen[month] >= 1_000_000:
            first = dt.date.fromisoformat(month + "-01")
            length = ((first + dt.timedelta(days=32)).replace(day=1) - first).days
            fraction = (1_000_000 - running) / qwen[month]
            crossed = first + dt.timedelta(days=max(0, round(fraction * length) - 1))
            break
        running += qwen[month]
    milestone = [e for e in found["rows"] if e["kind"] == "milestone"]
    assert [e["date"] for e in milestone] == [str(crossed)]
    # a month the top model changed: dated the first day of the next month
    assert all(e["date"].endswith("-01") for e in found["rows"] if e["kind"] == "new top model")


def test_bad_rows_are_kept_aside_and_a_rerun_never_double_counts(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    rows = [
        ["2025-01-02", "1", "1", "1", "10", "10", "5"],
        ["2025-01-03", "1", "1", "1", "abc", "1", "5"],
        ["not a day", "1", "1", "1", "10", "10", "5"],
        ["2025-01-06", "1", "1", "1", "-3", "1", "5"],
        ["2025-01-02", "1", "1", "1", "11", "11", "5"],  # a repeated day
        ["2025-01-07", "1", "1", "1", "12", "", "7"],  # no adjusted close: the close is read
        ["2025-01-08", "1", "1", "1", "12", "0", "7"],  # a zero adjusted close: no price
    ]
    path = write_csv(tmp_path / "p.csv", rows)
    first = cli("prices", "import", str(path), "--ticker", "baba", "-w", str(root))
    assert first.returncode == 0, first.stderr
    assert "2 rows, 5 rejected" in first.stdout
    again = cli("prices", "import", str(path), "--ticker", "BABA", "-w", str(root))
    assert "already imported" in again.stdout
    other = cli("prices", "import", str(path), "--ticker", "META", "-w", str(root))
    assert other.returncode == 0, other.stderr  # another ticker's days never conflict
    changed = write_csv(tmp_path / "p2.csv", rows[:1])
    refused = cli("prices", "import", str(changed), "--ticker", "BABA", "-w", str(root))
    assert refused.returncode == 1 and "--replace" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    rejects = strict_json(cli("prices", "rejects", "-f", "json", "-w", str(root)).stdout)["rows"]
    reasons = {(r["ticker"], r["row"], r["field"]) for r in rejects}
    assert {("BABA", 3, "close"), ("BABA", 4, "date"), ("BABA", 5, "close"),
            ("BABA", 6, "date"), ("BABA", 8, "adj_close")} <= reasons  # fmt: skip
    store = Warehouse(root)
    from hubpulse.store.prices import current_prices

    held = store.execute(current_prices(store)).to_pylist()
    assert sorted((r["ticker"], str(r["day"])) for r in held) == [
        ("BABA", "2025-01-02"), ("BABA", "2025-01-07"), ("META", "2025-01-02"),
        ("META", "2025-01-07"),
    ]  # fmt: skip
    # yfinance's own CSV: two more header rows, the ticker read from them; columns mapped
    layout = tmp_path / "yf.csv"
    layout.write_text(
        "Price,Adj Close,Close,High,Low,Open,Volume\nTicker,9988.HK,9988.HK,9988.HK,9988.HK,"
        "9988.HK,9988.HK\nDate,,,,,,\n2025-01-02,80.1,81,82,79,80,100\n"
    )
    yf = cli("prices", "import", str(layout), "-w", str(root))
    assert "9988.HK prices of 2025-01-02: 1 rows" in yf.stdout, yf.stderr
    mapped = tmp_path / "mapped.csv"
    mapped.write_text("day,price\n2025-01-02,5\n")
    result = cli("prices", "import", str(mapped), "--ticker", "NVDA", "--column", "date=day",
                 "--column", "close=price", "-w", str(root))  # fmt: skip
    assert "1 rows, 0 rejected" in result.stdout, result.stderr
    missing = cli("prices", "import", str(mapped), "--ticker", "NVDA", "-w", str(root))
    assert missing.returncode == 1 and "--column date=NAME" in missing.stderr


FAKE_YFINANCE = '''
"""A stand-in of yfinance at its boundary: Ticker(symbol).history(...) → a DataFrame."""
import json, os
import pandas as pd


class Ticker:
    def __init__(self, symbol):
        self.symbol = symbol

    def history(self, start=None, end=None, auto_adjust=True, actions=True, raise_errors=False):
        assert auto_adjust is False and actions is False and raise_errors is True
        if self.symbol == "NOPE":
            raise Exception("HTTP Error 404: Not Found\\nsecond line")
        rows = json.loads(open(os.environ["FAKE_YF_ROWS"]).read())
        frame = pd.DataFrame(rows).set_index("Date")
        frame.index = pd.to_datetime(frame.index).tz_localize("America/New_York")
        keep = (frame.index >= pd.Timestamp(start, tz="America/New_York")) & (
            frame.index < pd.Timestamp(end, tz="America/New_York")
        )
        return frame[keep]
'''


def test_a_pull_goes_through_yfinance_and_fails_in_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "fake" / "yfinance"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(textwrap.dedent(FAKE_YFINANCE))
    served: list[dict[str, Any]] = [
        {"Date": str(d), "Open": 1.0, "High": 2.0, "Low": 0.5, "Close": 1.5 + i,
         "Adj Close": 1.4 + i, "Volume": 10 * i}
        for i, d in enumerate(trading_days(dt.date(2025, 1, 1), dt.date(2025, 2, 28)))
    ]  # fmt: skip
    (tmp_path / "rows.json").write_text(json.dumps(served))
    env = {"PYTHONPATH": str(tmp_path / "fake"), "FAKE_YF_ROWS": str(tmp_path / "rows.json")}
    root = tmp_path / "wh"
    pulled = cli("prices", "pull", "BABA", "--from", "2025-01-10", "--to", "2025-02-07",
                 "-w", str(root), env=env)  # fmt: skip
    assert pulled.returncode == 0, pulled.stderr
    wanted = [r for r in served if "2025-01-10" <= r["Date"] <= "2025-02-07"]
    assert f"{len(wanted)} rows, 0 rejected" in pulled.stdout
    store = Warehouse(root)
    from hubpulse.store.prices import current_prices

    held = store.execute(current_prices(store)).to_pylist()
    assert [(str(r["day"]), r["adj_close"]) for r in held] == [
        (r["Date"], r["Adj Close"]) for r in wanted
    ]
    listed = strict_json(cli("prices", "list", "-f", "json", "-w", str(root)).stdout)["rows"]
    assert listed[0]["source"] == "Yahoo Finance (via yfinance)" and "Yahoo" in listed[0]["licence"]
    refused = cli("prices", "pull", "NOPE", "-w", str(root), env=env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "error: Yahoo Finance refused NOPE: HTTP Error 404: Not Found"
    ]
    broken = tmp_path / "missing" / "yfinance"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('No module named yfinance')\n")
    absent = cli("prices", "pull", "BABA", "-w", str(root),
                 env={"PYTHONPATH": str(tmp_path / "missing")})  # fmt: skip
    assert absent.returncode == 1 and "pip install 'hubpulse[market]'" in absent.stderr
    unpriced = cli("market", "Llama", "-w", str(root))
    assert unpriced.returncode == 1 and "no prices of META" in unpriced.stderr


def test_the_report_the_dashboard_and_the_api_show_the_cli_s_market(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from hubpulse.settings import load_settings
    from hubpulse.web.app import create_app
    from hubpulse.web.views import Dashboard

    root = tmp_path / "wh"
    history(root)
    write_csv(tmp_path / "baba.csv", prices(history(tmp_path / "again" / "wh")))
    cli("prices", "import", str(tmp_path / "baba.csv"), "--ticker", "BABA", "-w", str(root))
    shown = strict_json(
        cli("market", "Qwen", "--mode", "publisher", "-f", "json", "-w", str(root)).stdout
    )
    settings = load_settings(warehouse=root, mode="publisher")
    client = TestClient(create_app(settings, dashboard=Dashboard(settings, warm=False)))
    api = client.get("/api/market", params={"subject": "Qwen"}).json()
    assert api["rows"] == shown["rows"] and api["correlations"] == shown["correlations"]
    assert any("not evidence of cause" in n for n in api["notes"])
    missing = client.get("/api/market", params={"subject": "Llama"})
    assert missing.status_code == 404 and "no prices of META" in missing.json()["detail"]
    # the form as a browser submits it: blank ticker and benchmark fields
    form = {"subject": "Qwen", "ticker": "", "benchmark": "", "mode": "publisher"}
    page = client.get("/market", params=form).text
    assert 'id="chart-market"' in page and "Not evidence of cause" in page
    assert client.get("/market", params=form | {"ticker": "no such"}).status_code == 422
    assert 'id="market-missing"' in client.get("/market", params={"subject": "Llama"}).text
    report = cli(
        "report",
        "--family",
        "Qwen",
        "--mode",
        "publisher",
        "-o",
        str(tmp_path / "r.html"),
        "--png",
        str(tmp_path / "png"),
        "-w",
        str(root),
    )
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "png" / "market.png").stat().st_size > 10_000  # drawn by matplotlib too
    html = (tmp_path / "r.html").read_text()
    assert 'id="chart-market"' in html and "not evidence of cause" in html


def test_hostile_price_files_are_one_line_errors(tmp_path: Path) -> None:
    root = str(tmp_path / "wh")
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.truncate(65 << 20)  # sparse: 65 MB of nothing
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    for path, said in (
        (huge, "no daily price file"),
        (binary, "not UTF-8"),
        (empty, "empty file"),
        (tmp_path, "is a directory"),
        (write_csv(tmp_path / "bad.csv", [["2025-01-02", "1", "1", "1", "x", "1", "1"]]),
         "no valid price rows (1 rejected; row 2, close"),
    ):  # fmt: skip
        result = cli("prices", "import", str(path), "--ticker", "BABA", "-w", root)
        assert result.returncode == 1 and said in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    for args, said in (
        (["events", "Qwen", "--window", "3..1"], "the first day comes first"),
        (["events", "Qwen", "--on", "2025-01-01"], "DATE=LABEL"),
        (["market", "Nobody"], "neither a family nor a vendor"),
        (["market", "DeepSeek"], "names no ticker for DeepSeek"),
        (["market", "Qwen", "--ticker", "not a ticker"], "expected a symbol"),
    ):
        result = cli(*args, "-w", root)
        assert result.returncode != 0 and said in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_the_demo_says_how_to_put_a_share_price_beside_adoption(tmp_path: Path) -> None:
    demo = cli("demo", "--warehouse", str(tmp_path / "wh"), env={"COLUMNS": "200"})
    assert demo.returncode == 0, demo.stderr
    said = " ".join(demo.stdout.split())
    assert "Share prices are not bundled" in said
    assert "pip install 'hubpulse[market]'" in said and "hubpulse prices import FILE" in said
