"""The command line's shared parts, defined once: the app and its console, the options every
command shares (warehouse, format, mode, dates, the selection of models counted, the comparison
set), and the helpers that turn option values into settings, dates and groupings."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import os
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from hubpulse.terms import TREND_GROUPS, Engine, Mode, OutputFormat

if TYPE_CHECKING:
    from hubpulse.analysis.history.history import History
    from hubpulse.analysis.snapshot.selection import Selection
    from hubpulse.analysis.snapshot.snapshot import Analysis
    from hubpulse.settings import Settings
    from hubpulse.store.warehouse import Warehouse
    from hubpulse.terms import GroupBy, Metric, TrendBy

app = typer.Typer(
    help="Measure adoption of open-weight models on the Hugging Face Hub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain text: "[env X; default Y]" must show as written
)
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120)

WarehouseOpt = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        "-w",
        help="Warehouse directory [env HUBPULSE_WAREHOUSE; default ~/.local/share/hubpulse]",
        show_default=False,
    ),
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
ModeOpt = Annotated[
    Mode | None,
    typer.Option(
        "--mode",
        "-m",
        help="Attribution: publisher or lineage [env HUBPULSE_MODE; default lineage]",
        show_default=False,
    ),
]
DateOpt = Annotated[
    str | None, typer.Option("--date", "-d", help="Snapshot date YYYY-MM-DD (default: newest).")
]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="First month YYYY-MM (default: earliest data).")
]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last month YYYY-MM (default: latest).")]
FamiliesOpt = Annotated[
    Path | None,
    typer.Option(
        "--families",
        help="Extra family registry TOML [env HUBPULSE_FAMILIES_FILE].",
        show_default=False,
    ),
]
EngineOpt = Annotated[
    Engine | None,
    typer.Option(
        "--engine",
        help="Run lineage and metrics on duckdb or spark (pip install 'hubpulse[spark]') "
        "[env HUBPULSE_ENGINE; default duckdb]",
        show_default=False,
    ),
]
SparkMasterOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="Spark master URL for --engine spark [env HUBPULSE_SPARK_MASTER; default local[*]]",
        show_default=False,
    ),
]

MinCoverageOpt = Annotated[
    float | None,
    typer.Option(
        "--min-coverage",
        min=0.0,
        max=1.0,
        help="Coverage a group-month needs (the part of its newest 30-day downloads that was "
        "estimated) before shares, growth and concentration use it [env "
        "HUBPULSE_MIN_COVERAGE; default 0.8]",
        show_default=False,
    ),
]

TaskOpt = Annotated[
    str | None,
    typer.Option(
        "--task",
        help="Count only models of these pipeline tags, comma-separated (a model without a tag "
        "takes its root's), e.g. text-generation,image-text-to-text.",
        show_default=False,
    ),
]
LlmOpt = Annotated[
    bool,
    typer.Option(
        "--llm",
        help="Count only LLMs: text-generation, text2text-generation, image-text-to-text, "
        "video-text-to-text, audio-text-to-text, any-to-any, conversational.",
    ),
]
ExcludeOpt = Annotated[
    str | None,
    typer.Option(
        "--exclude",
        help="Leave out these families, or every family of these vendors, comma-separated.",
        show_default=False,
    ),
]
CountOpt = Annotated[
    str,
    typer.Option(
        "--count",
        help="raw: every download; robust: leave out flagged models (quantized copies, "
        "dormant, CI-like and test repos, floods; see `hubpulse flags`) and report what "
        "was removed.",
    ),
]
ThresholdOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--threshold",
        help="Change a flag threshold, NAME=VALUE, repeatable: dormant (100), dormant-min "
        "(100000), ci (200), ci-min (10000), flood (10).",
        show_default=False,
    ),
]

HubOpt = Annotated[
    str,
    typer.Option(
        help="hf (Hugging Face alone), or modelscope / both: all-time downloads on ModelScope "
        "or on both hubs."
    ),
]
NextOpt = Annotated[int, typer.Option("--next", min=1, help="Compare with the next N groups.")]
AgainstOpt = Annotated[
    str | None,
    typer.Option(
        help="Compare with these groups combined (comma-separated families or vendors) or a "
        "named set of `hubpulse comparison-sets` (e.g. qwen-team), instead of the next N.",
        show_default=False,
    ),
]


SELECTION_OPTIONS: dict[str, tuple[Any, Any]] = {  # name: (annotation, default)
    "task": (TaskOpt, None),
    "llm": (LlmOpt, False),
    "exclude": (ExcludeOpt, None),
    "count": (CountOpt, "raw"),
    "threshold": (ThresholdOpt, None),
}


@dataclass(frozen=True)
class SelectionOptions:
    """The selection options as given (``selection_options`` gathers them into one argument);
    ``build`` makes the library's ``Selection`` of them."""

    task: str | None = None
    llm: bool = False
    exclude: str | None = None
    count: str = "raw"
    threshold: list[str] | None = None

    def build(self, families: Path | None = None) -> Selection:
        """The ``Selection``: groups spelled as the registry (with ``families``) spells them,
        thresholds parsed; a bad value is a one-line error naming its option."""
        from hubpulse.analysis.snapshot.flags import Thresholds
        from hubpulse.analysis.snapshot.selection import COUNTS, Selection
        from hubpulse.registry import load_registry

        if self.count not in COUNTS:
            raise typer.BadParameter(f"choose one of {', '.join(COUNTS)}", param_hint="--count")
        excluded = names_of(self.exclude)
        if excluded:  # the registry's spelling, or an error naming the known groups
            excluded = tuple(Selection(exclude=excluded).spelled(load_registry(families)))
        return Selection(
            tasks=names_of(self.task),
            llm=self.llm,
            exclude=excluded,
            count=self.count,  # type: ignore[arg-type]
            thresholds=Thresholds.parse(self.threshold),
        )


EVERYTHING = SelectionOptions()
Command = TypeVar("Command", bound=Callable[..., Any])


def selection_options(*names: str) -> Callable[[Command], Command]:
    """Declare the selection options (``--task``, ``--llm``, ``--exclude``, ``--count``,
    ``--threshold``, or only ``names`` of them) once for a command, in place of its
    ``selection: SelectionOptions`` parameter, which receives them as one argument."""
    chosen = names or tuple(SELECTION_OPTIONS)

    def decorate(command: Command) -> Command:
        hints = typing.get_type_hints(command, include_extras=True)
        params = []
        for param in inspect.signature(command).parameters.values():
            if param.name != "selection":
                params.append(param.replace(annotation=hints[param.name]))
                continue
            for name in chosen:
                annotation, default = SELECTION_OPTIONS[name]
                kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
                params.append(inspect.Parameter(name, kind, annotation=annotation, default=default))

        @functools.wraps(command)
        def run(**given: Any) -> Any:
            options = SelectionOptions(**{name: given.pop(name) for name in chosen})
            return command(**given, selection=options)

        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}
        return run  # type: ignore[return-value]

    return decorate


def names_of(value: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in (value or "").split(",") if n.strip())


def bounded(option: str, low: int, high: int) -> Callable[[int | None], int | None]:
    """An option callback refusing a whole number outside ``low``..``high`` in one line (a
    negative ``--limit`` or one past 2^63 reached the engine and ended in a traceback)."""
    from hubpulse.errors import OptionError

    def check(value: int | None) -> int | None:
        if value is not None and not low <= value <= high:
            raise OptionError(f"{option} {value}: give a whole number from {low:,} to {high:,}")
        return value

    return check


# The most rows a listing shows; a count option's ceiling (the ingest's ceiling for a count).
MAX_ROWS, MAX_COUNT = 10**9, 10**12
MAX_AGE_DAYS = 36_500  # a century of a model's life


def settings_of(
    warehouse: Path | None,
    mode: str | None = None,
    families: Path | None = None,
    engine: str | None = None,
    spark_master: str | None = None,
    min_coverage: float | None = None,
) -> Settings:
    from hubpulse.settings import load_settings

    return load_settings(
        warehouse=warehouse,
        mode=mode,
        families_file=families,
        engine=engine,
        spark_master=spark_master,
        min_coverage=min_coverage,
    )


def parse_date(value: str | None, option: str = "--date") -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def month_span(month: str) -> tuple[dt.date, dt.date]:
    """The first and last day of ``YYYY-MM`` (a usage error otherwise)."""
    from hubpulse.ingest.sources import month_days

    try:
        if len(month) != 7:
            raise ValueError(month)
        return month_days(month)
    except ValueError:
        raise typer.BadParameter(
            f"{month!r} is not a month (YYYY-MM)", param_hint="--month"
        ) from None


def analysis_of(
    settings: Settings, date: str | None, warehouse: Warehouse | None = None
) -> Analysis:
    from hubpulse.analysis.snapshot.stored import load_analysis

    return load_analysis(settings, parse_date(date), warehouse)


def history_of(
    settings: Settings, first: str | None, last: str | None, selection: Selection | None = None
) -> History:
    """Estimates for the month range; lineage mode uses the newest snapshot's graph."""
    from hubpulse.analysis.history.history import load_history

    return load_history(settings, first, last, selection=selection)


def trend_by(by: str) -> TrendBy:
    if by not in TREND_GROUPS:
        raise typer.BadParameter(f"choose one of {', '.join(TREND_GROUPS)}", param_hint="--by")
    return by  # type: ignore[return-value]


def by_group(by: str) -> str:
    if by not in ("family", "vendor"):
        raise typer.BadParameter("choose family or vendor", param_hint="--by")
    return by


def group_of(by: str) -> GroupBy:
    return by  # type: ignore[return-value]


def metric_of(metric: str) -> Metric:
    if metric not in ("downloads_30d", "downloads_all_time"):
        raise typer.BadParameter(
            "choose downloads_30d or downloads_all_time", param_hint="--metric"
        )
    return metric  # type: ignore[return-value]
