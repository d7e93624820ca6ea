"""Charts: one neutral description of each chart, drawn by Plotly (interactive HTML) or by
matplotlib (PNG), so the report, the dashboard and the PNG files show the same figures.

A ``Chart`` holds categories along x and one or more named series; a series may carry
``lower``/``upper`` bounds (drawn as error bars, or as a band on line charts). A null upper
bound means *unbounded*: it is drawn open-ended — an upward arrow, never a capped whisker at an
invented height — so the axis keeps the scale of what is known. A null value is a gap (no
data), never a zero. A family keeps one colour across charts (``family_colors``), and no two
families share one. A chart with nothing to draw is said in words (``Chart.empty``), never drawn
as empty axes.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from html import escape
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hubpulse.present.chart_marks import plotly_extras, png_extras

if TYPE_CHECKING:
    import plotly.graph_objects as go

ChartKind = Literal["bar", "stack", "line", "area"]
PALETTE: tuple[str, ...] = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B")
PALETTE += ("#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC")


OTHERS = "#9AA3B2"  # the combined rest, "other" groups


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    lower: Sequence[float | None] | None = None
    upper: Sequence[float | None] | None = None
    color: str | None = None  # one colour for the series
    colors: Sequence[str] | None = None  # one per bar (a single-series bar chart)


def family_colors(names: Sequence[str]) -> dict[str, str]:
    """One colour per family, by its place in ``names`` (the registry's order, so a family
    keeps its colour whatever its rank), so a family looks the same in every chart of a
    report or dashboard; no two names share a colour."""
    return dict(zip(names, distinct_colors(len(names)), strict=True))


def distinct_colors(n: int) -> list[str]:
    """``n`` different colours: the palette, then hues a golden angle apart at three
    lightnesses (none repeats, none is the grey of ``OTHERS``)."""
    colours = list(PALETTE[:n])
    step = 0
    while len(colours) < n:
        hue, light = (step * 0.618033988749895) % 1.0, (0.38, 0.52, 0.66)[step % 3]
        red, green, blue = colorsys.hls_to_rgb(hue, light, 0.62)
        colour = f"#{round(red * 255):02X}{round(green * 255):02X}{round(blue * 255):02X}"
        if colour not in colours and colour != OTHERS:
            colours.append(colour)
        step += 1
    return colours


@dataclass(frozen=True)
class Chart:
    """A chart independent of the library that draws it."""

    name: str
    title: str
    kind: ChartKind
    x: list[str]
    series: list[Series]
    y_title: str
    percent: bool = False
    horizontal: bool = False
    notes: list[str] = field(default_factory=list)
    why_empty: str = "no data"  # said instead of drawing when no series has a value
    secondary: Series | None = None  # on a second value axis, right (a share price)
    secondary_title: str = ""
    marks: Sequence[tuple[str, str]] = ()  # (x, label): dated events, vertical lines

    @property
    def empty(self) -> bool:
        """Whether no series has a single value: such a chart is said in words, not drawn."""
        return all(v is None for s in self.series for v in s.values)


@cache
def plotly_js() -> str:
    """The plotly.js bundle shipped inside the installed ``plotly`` package (no CDN)."""
    return resources.files("plotly").joinpath("package_data", "plotly.min.js").read_text("utf-8")


def plotly_figure(chart: Chart) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, series in enumerate(chart.series):
        color = series.color or PALETTE[i % len(PALETTE)]
        if chart.kind in ("bar", "stack"):
            fig.add_trace(_bar(chart, series, color))
            if series.upper is not None and None in series.upper:
                fig.add_trace(_open_ends(chart, series))
        else:
            if series.lower is not None and chart.kind == "line":
                _band(fig, chart.x, series, color)
            fig.add_trace(
                go.Scatter(
                    x=chart.x,
                    y=series.values,
                    name=series.name,
                    mode="lines+markers",
                    line={"color": color},
                    stackgroup="one" if chart.kind == "area" else None,
                )
            )
            if series.upper is not None and None in series.upper:
                fig.add_trace(_open_ends(chart, series))
    _layout(fig, chart)
    plotly_extras(fig, chart)
    return fig


def _layout(fig: go.Figure, chart: Chart) -> None:
    """Title, axes, legend and notes: the title below the toolbar, the legend below the x
    labels, the notes above the plot."""
    crowded = int(not chart.horizontal and len(chart.x) > CROWDED)
    value_axis = {"title": chart.y_title, "tickformat": ".0%" if chart.percent else "~s"}
    fig.update_layout(
        # left-aligned, wrapped and below the toolbar's row: the toolbar never covers it
        title={
            "text": _wrap(chart.title),
            "x": 0.01,
            "xanchor": "left",
            "y": 1.0,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 34},
            "font": {"size": 15},
        },
        barmode="stack" if chart.kind == "stack" else "group",
        template="plotly_white",
        height=440 + 40 * crowded,
        margin={"l": 60, "r": 20, "t": _top_margin(chart), "b": 60 + 40 * crowded},
        # below the x labels (turned upright when there are many), never over them
        legend={"orientation": "h", "y": -0.3 if crowded else -0.15, "yanchor": "top"},
        showlegend=len(chart.series) > 1,
    )
    if not chart.horizontal:  # labels as written: a marked month is no date to parse
        fig.update_xaxes(type="category")
    if chart.horizontal:
        fig.update_xaxes(**value_axis)
        fig.update_yaxes(autorange="reversed")
    else:
        fig.update_yaxes(**value_axis)
    for note in chart.notes:
        fig.add_annotation(
            text=_wrap(note, NOTE_WIDTH),
            xref="paper",
            yref="paper",
            x=0,
            y=1.06,
            showarrow=False,
            font={"size": 11},
            align="left",
            xanchor="left",
            yanchor="bottom",
        )


def chart_html(chart: Chart) -> str:
    """A ``<div>`` drawing ``chart`` (plotly.js must already be on the page), or saying why
    there is nothing to draw."""
    if chart.empty:
        return (
            f'<div class="chart-empty" id="chart-{escape(chart.name)}"><h3>'
            f"{escape(chart.title)}</h3><p>Not drawn: {escape(chart.why_empty)}.</p></div>"
        )
    return str(
        plotly_figure(chart).to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{chart.name}",
            config={
                "displaylogo": False,
                "responsive": True,
                "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
            },
        )
    )


def _bar(chart: Chart, series: Series, color: str) -> go.Bar:
    import plotly.graph_objects as go

    values = [0 if v is None else v for v in series.values]
    error = None
    if series.lower is not None and series.upper is not None:
        above = [0 if u is None else u - v for v, u in zip(values, series.upper, strict=True)]
        below = [
            v - (lo if lo is not None else v) for v, lo in zip(values, series.lower, strict=True)
        ]
        error = {"type": "data", "symmetric": False, "array": above, "arrayminus": below}
    common: dict[str, Any] = {
        "name": series.name,
        "marker": {"color": list(series.colors) if series.colors else color},
    }
    if chart.horizontal:
        return go.Bar(y=chart.x, x=values, orientation="h", error_x=error, **common)
    return go.Bar(x=chart.x, y=values, error_y=error, **common)


def _open_ends(chart: Chart, series: Series) -> go.Scatter:
    """Upward arrows where the upper bound is unknown: open-ended, at the known figure."""
    import plotly.graph_objects as go

    at = [
        (x, v)
        for x, v, u in zip(chart.x, series.values, series.upper or [], strict=True)
        if u is None and v is not None  # a gap (no data) stays a gap
    ]
    marker = {"symbol": "arrow-up", "size": 12, "color": "#333333"}
    return go.Scatter(
        x=[x for x, _ in at],
        y=[y for _, y in at],
        mode="markers+text" if len(at) <= 3 else "markers",
        text=["no upper bound"] * len(at),
        textposition="top center",
        marker=marker,
        name="no upper bound",
        hovertemplate="%{x}: no upper bound<extra></extra>",
    )


def _band(fig: go.Figure, x: list[str], series: Series, color: str) -> None:
    """The bounds as a shaded band where both are known (open-ended months get an arrow)."""
    import plotly.graph_objects as go

    upper = list(series.upper or [])
    lower = [lo if u is not None else None for lo, u in zip(series.lower or [], upper, strict=True)]
    fig.add_trace(go.Scatter(x=x, y=upper, mode="lines", line={"width": 0}, showlegend=False))
    fig.add_trace(
        go.Scatter(
            x=x,
            y=lower,
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=_rgba(color, 0.18),
            name=f"{series.name} bounds",
        )
    )


NOTE_WIDTH = 72  # characters per line of a note: the narrowest card holds this at 11 px
CROWDED = 8  # more categories than this along x: their labels turn upright


def _top_margin(chart: Chart) -> int:
    """Room above the plot for the wrapped title and the notes' lines after the first."""
    notes = sum(_wrap(n, NOTE_WIDTH).count("<br>") for n in chart.notes)
    return 70 + 18 * _wrap(chart.title).count("<br>") + 15 * notes


def _wrap(title: str, width: int = 70) -> str:
    """A long title on several lines (Plotly does not wrap)."""
    import textwrap

    return "<br>".join(textwrap.wrap(title, width)) or title


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def write_png(chart: Chart, path: Path) -> Path:
    """Draw ``chart`` with matplotlib (Agg, no display) into ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.2), dpi=110)
    if chart.empty:
        ax.set_axis_off()
        ax.set_title(chart.title, loc="left")
        ax.text(0.5, 0.5, f"Not drawn: {chart.why_empty}.", ha="center", wrap=True)
    else:
        _png_series(ax, chart)
        _png_axes(fig, ax, chart)
        png_extras(ax, chart)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _png_series(ax: Any, chart: Chart) -> None:
    """Bars (side by side or stacked), stacked areas or lines with their bound bands."""
    positions = list(range(len(chart.x)))
    bottoms = [0.0] * len(chart.x)
    width = 0.8 / (len(chart.series) if chart.kind == "bar" else 1)
    for i, series in enumerate(chart.series):
        color: Any = series.color or PALETTE[i % len(PALETTE)]
        if series.colors:
            color = list(series.colors)
        values = [0.0 if v is None else float(v) for v in series.values]
        if chart.kind in ("bar", "stack"):
            offset = (i - (len(chart.series) - 1) / 2) * width if chart.kind == "bar" else 0.0
            at = [p + offset for p in positions]
            base = bottoms if chart.kind == "stack" else [0.0] * len(values)
            draw = ax.barh if chart.horizontal else ax.bar
            draw(at, values, width, base, label=series.name, color=color)
            if series.lower is not None and series.upper is not None:
                _png_errors(ax, chart, series, at, values)
            if chart.kind == "stack":
                bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
        else:
            if chart.kind == "area":
                ax.fill_between(
                    positions,
                    bottoms,
                    [b + v for b, v in zip(bottoms, values, strict=True)],
                    color=color,
                    alpha=0.85,
                    label=series.name,
                    linewidth=0,
                )
                bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
                continue
            gaps = [math.nan if v is None else float(v) for v in series.values]
            ax.plot(positions, gaps, marker="o", color=color, label=series.name)
            if series.lower is not None:
                upper = [math.nan if u is None else float(u) for u in series.upper or []]
                lower = [0.0 if lo is None else float(lo) for lo in series.lower]
                ax.fill_between(positions, lower, upper, color=color, alpha=0.18)
                _png_open_ends(ax, chart, series, positions)


def _png_axes(fig: Any, ax: Any, chart: Chart) -> None:
    """Ticks, axis titles and formats, title, legend, notes and grid."""
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    positions = list(range(len(chart.x)))
    values_axis = ax.xaxis if chart.horizontal else ax.yaxis
    if chart.horizontal:
        ax.set_yticks(positions, chart.x)
        ax.invert_yaxis()
        ax.set_xlabel(chart.y_title)
    else:
        ax.set_xticks(
            positions,
            chart.x,
            rotation=45 if len(chart.x) > 6 else 0,
            ha="right" if len(chart.x) > 6 else "center",
        )
        ax.set_ylabel(chart.y_title)
    values_axis.set_major_formatter(
        PercentFormatter(1.0) if chart.percent else FuncFormatter(lambda v, _: _si(v))
    )
    ax.set_title(chart.title)
    if len(chart.series) > 1:
        ax.legend(fontsize=8, ncols=min(4, len(chart.series)), loc="best")
    if chart.notes:
        fig.text(0.01, 0.01, " · ".join(chart.notes), fontsize=8, color="#555555")
    ax.grid(axis="x" if chart.horizontal else "y", alpha=0.3)


def _png_errors(
    ax: Any, chart: Chart, series: Series, at: list[float], values: list[float]
) -> None:
    """Whiskers to the known bounds; an open-ended arrow where the upper bound is unknown."""
    upper = [v if u is None else float(u) for v, u in zip(values, series.upper or [], strict=True)]
    lower = [
        v if lo is None else float(lo) for v, lo in zip(values, series.lower or [], strict=True)
    ]
    spread = [
        [v - lo for v, lo in zip(values, lower, strict=True)],
        [u - v for v, u in zip(values, upper, strict=True)],
    ]
    if chart.horizontal:
        ax.errorbar(values, at, xerr=spread, fmt="none", ecolor="#222222", capsize=6)
    else:
        ax.errorbar(at, values, yerr=spread, fmt="none", ecolor="#222222", capsize=6)
    _png_open_ends(ax, chart, series, at)


def _png_open_ends(ax: Any, chart: Chart, series: Series, at: Sequence[float]) -> None:
    if series.upper is None:
        return
    for x, v, u in zip(at, series.values, series.upper, strict=True):
        if u is None and v is not None:
            where = (float(v), x) if chart.horizontal else (x, float(v))
            ax.annotate("↑ no upper bound", where, ha="center", va="bottom", fontsize=8)


def _si(value: float) -> str:
    """1_200_000 → 1.2M."""
    if value == 0 or not math.isfinite(value):
        return "0"
    for factor, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"
