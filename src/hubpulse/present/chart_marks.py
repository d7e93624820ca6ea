"""What some charts add to the common drawing (``charts``): a series on a second value axis
(a share price beside downloads) and dated events as labelled vertical lines."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from hubpulse.present.charts import Chart

SECONDARY = "#333333"
MARK = "#8A5A00"


def plotly_extras(fig: go.Figure, chart: Chart) -> None:
    """The secondary series on a right-hand axis; each mark a dashed line with its label."""
    import plotly.graph_objects as go

    if chart.secondary is not None:
        fig.add_trace(
            go.Scatter(
                x=chart.x,
                y=list(chart.secondary.values),
                name=chart.secondary.name,
                mode="lines+markers",
                line={"color": chart.secondary.color or SECONDARY, "dash": "dot"},
                yaxis="y2",
            )
        )
        fig.update_layout(
            yaxis2={"title": chart.secondary_title, "overlaying": "y", "side": "right"},
            showlegend=True,
        )
    for i, (x, label) in enumerate(chart.marks):
        if x not in chart.x:
            continue
        fig.add_shape(
            type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1,
            line={"color": MARK, "dash": "dash", "width": 1},
        )  # fmt: skip
        fig.add_annotation(
            x=x, xref="x", yref="paper", y=1 - 0.07 * (i % 4), text=label, showarrow=False,
            font={"size": 10, "color": MARK}, xanchor="left", bgcolor="rgba(255,255,255,0.7)",
        )  # fmt: skip


def png_extras(ax: Any, chart: Chart) -> None:
    """The same for matplotlib: a twin axis on the right, dashed lines with labels."""
    positions = {x: i for i, x in enumerate(chart.x)}
    if chart.secondary is not None:
        twin = ax.twinx()
        values = [math.nan if v is None else float(v) for v in chart.secondary.values]
        twin.plot(
            list(range(len(chart.x))), values, linestyle=":", marker="o",
            color=chart.secondary.color or SECONDARY, label=chart.secondary.name,
        )  # fmt: skip
        twin.set_ylabel(chart.secondary_title)
        lines = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(lines, [line.get_label() for line in lines], fontsize=8, loc="upper left")
    for i, (x, label) in enumerate(chart.marks):
        if x in positions:
            ax.axvline(positions[x], color=MARK, linestyle="--", linewidth=1)
            ax.annotate(
                label, (positions[x], 1 - 0.07 * (i % 4)), xycoords=("data", "axes fraction"),
                fontsize=7, color=MARK,
            )  # fmt: skip
