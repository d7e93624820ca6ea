"""Claims asked from the command line, the report and the API: resolve ``--against`` (a named
set of ``comparisons.toml`` or groups), open the warehouse once, load the snapshot and the
histories a claim needs, and run the comparison (``run_compare``: ``compare_snapshot`` or
``compare_month``) or the audit (``run_audit``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from hubpulse.analysis.claims.audit import (
    Audit,
    Rankings,
    audit_exceeds,
    audit_milestone,
    known_group,
    undecided_milestone,
)
from hubpulse.analysis.claims.comparison import Against
from hubpulse.analysis.claims.derivative_audit import audit_derivatives
from hubpulse.analysis.claims.month_comparison import compare_month
from hubpulse.analysis.claims.snapshot_comparison import (
    SnapshotComparison,
    compare_snapshot,
    compare_snapshot_rows,
)
from hubpulse.analysis.snapshot.selection import Selection
from hubpulse.errors import OptionError, UnknownFamilyError
from hubpulse.registry import MODES, Registry, load_comparison_sets
from hubpulse.terms import Metric, Mode

if TYPE_CHECKING:
    from hubpulse.analysis.snapshot.snapshot import Analysis
    from hubpulse.settings import Settings
    from hubpulse.store.warehouse import Warehouse


def comparison_set(settings: Settings, by: str | None, against: str | None, next_n: int) -> Against:
    """``--against``: a named set (``comparisons.toml``) or comma-separated groups of ``by``
    (None: families or vendors, as an audit translates them); None: the next ``next_n``."""
    from hubpulse.registry import load_registry

    if against is None:
        return Against(next=next_n)
    registry = load_registry(settings.families_file)
    sets = load_comparison_sets(registry, settings.comparisons_file)
    named = sets.get(against.strip().lower())
    if named is not None:
        if by is not None and named.by != by:
            raise UnknownFamilyError(
                f"comparison set {named.name!r} compares {named.by} groups: add --by {named.by}"
            )
        return Against(next=named.next or 0, groups=tuple(named.against), name=named.name)
    names = [n.strip() for n in against.split(",") if n.strip()]
    if not names:
        raise UnknownFamilyError("--against names no group")
    try:
        return Against(groups=tuple(_spelled(registry, by, n) for n in names))
    except UnknownFamilyError as exc:
        raise UnknownFamilyError(
            f"{exc}; named sets: {', '.join(sorted(s.name for s in sets.values()))}"
        ) from None


def refuse_excluded(settings: Settings, subject: str, selection: Selection | None) -> None:
    """A subject the selection excludes (itself, or its vendor) cannot be compared: say so,
    rather than that it "has no models"."""
    if selection is None or not selection.exclude:
        return
    from hubpulse.registry import load_registry

    registry = load_registry(settings.families_file)
    names = {subject.lower()}
    names |= {f.vendor.lower() for f in registry.families if f.name.lower() == subject.lower()}
    hit = [e for e in selection.exclude if e.lower() in names]
    if hit:
        raise OptionError(f"{subject} is excluded by --exclude {hit[0]}, so it cannot be compared")


def _spelled(registry: Registry, by: str | None, name: str) -> str:
    """The registry's spelling of group ``name`` of ``by`` (None: a family, else a vendor)."""
    if by is not None:
        return registry.group(by, name)
    return known_group(registry, name)


def run_audit(
    settings: Settings,
    subject: str,
    *,
    next_n: int = 8,
    against: str | None = None,
    month: str | None = None,
    milestone: int | None = None,
    derivatives: int | None = None,
    floor: int = 10,
    base: Selection | None = None,
    date: dt.date | None = None,
    warehouse: Warehouse | None = None,
    analysis: Analysis | None = None,
    applications: int | None = None,
    hub: str = "hf",
) -> tuple[Audit, Analysis]:
    """The audit a command asks for — derivatives, milestone or (default) exceeds — with the
    snapshot it read (``hub`` modelscope or both: by all-time downloads on that hub); histories and
    the snapshot share one warehouse connection (``warehouse``, and ``analysis`` read through it),
    since a history is restricted by the snapshot's stored tables. ``applications``: the Spaces of
    ``date`` (default: the newest) and the model snapshot on or before it."""
    from hubpulse.analysis.history.history import load_history
    from hubpulse.analysis.snapshot.stored import load_analysis
    from hubpulse.store.warehouse import open_store

    refuse_excluded(settings, subject, base)
    store = warehouse or open_store(settings)
    if applications is not None:
        return _applications(settings, store, subject, applications, date)
    analysis = analysis or load_analysis(settings, date, store)
    if hub != "hf":
        if month is not None or derivatives is not None:
            raise OptionError("--hub audits all-time downloads of one snapshot: no --month")
        vs = comparison_set(settings, None, against, next_n)
        return _hubs(store, analysis, subject, hub, vs, milestone, base), analysis
    analyses: dict[Mode, Analysis] = {m: analysis for m in MODES}
    if derivatives is not None:
        return audit_derivatives(analysis, subject, derivatives, floor), analysis
    if milestone is not None:
        if month is None:
            return audit_milestone(analyses, subject, milestone, base), analysis
        return _dated_milestone(settings, store, analysis, subject, milestone, month, base)
    vs = comparison_set(settings, None, against, next_n)
    histories = None
    if month is not None:
        histories = {
            m: load_history(settings.model_copy(update={"mode": m}), month, month, store, analysis)
            for m in MODES
        }
    found = audit_exceeds(analyses, subject, vs, histories=histories, month=month, base=base)
    return found, analysis


def compare_hubs(
    store: Warehouse,
    analysis: Analysis,
    subject: str,
    against: Against,
    hub: str,
    by: str,
    mode: Mode,
    selection: Selection | None,
) -> SnapshotComparison:
    """``subject`` against ``against`` by all-time downloads on ModelScope or on both hubs."""
    from hubpulse.analysis.snapshot.hubs import rank_hubs

    rows, day = _hub_rows(store, hub, selection)
    ranking = store.execute(rank_hubs(analysis, rows, hub=hub, by=by, mode=mode))  # type: ignore[arg-type]
    column = "all_time" if hub == "both" else "ms_all_time"
    table = ranking.append_column("downloads_all_time", ranking[column]).to_pylist()
    what = "Hugging Face + ModelScope" if hub == "both" else "ModelScope"
    return compare_snapshot_rows(
        table,
        analysis.registry.group(by, subject),
        against.next,
        mode=mode,
        metric="downloads_all_time",
        snapshot_date=analysis.snapshot_date,
        by=by,
        against=against,
        hub=f"all-time downloads on {what} (ModelScope of {day}, its count treated as all-time)",
    )


def _hubs(
    store: Warehouse,
    analysis: Analysis,
    subject: str,
    hub: str,
    against: Against,
    milestone: int | None,
    selection: Selection | None,
) -> Audit:
    """An exceeds or milestone claim by all-time downloads on ModelScope or both hubs."""
    from hubpulse.analysis.claims.hub_audit import Listing, audit_hubs
    from hubpulse.store.modelscope import listed_owners

    rows, day = _hub_rows(store, hub, selection)
    listing = Listing(rows, day, *listed_owners(store, day))
    against.refuse(subject)
    return audit_hubs(analysis, listing, subject, hub, against=against, milestone=milestone)


def _hub_rows(store: Warehouse, hub: str, selection: Selection | None) -> tuple[Any, dt.date]:
    """The newest day's ModelScope models for a ``--hub`` question, after refusing what it
    cannot answer (another hub, a selection of models)."""
    from hubpulse.store.modelscope import modelscope_day

    if hub not in ("modelscope", "both"):
        raise OptionError(f"--hub {hub!r}: choose hf, modelscope or both")
    if selection is not None and not selection.everything:
        raise OptionError("--hub counts every model: no --task, --llm, --exclude or --count")
    return modelscope_day(store)


def _applications(
    settings: Settings, store: Warehouse, subject: str, threshold: int, date: dt.date | None
) -> tuple[Audit, Analysis]:
    from hubpulse.analysis.claims.application_audit import audit_applications
    from hubpulse.analysis.snapshot.applications import analysis_for_spaces, spaces_day

    day = spaces_day(store, date)
    analysis = analysis_for_spaces(store, settings, day.date)
    return audit_applications(analysis, day, store.aliases(), subject, threshold), analysis


def _dated_milestone(
    settings: Settings,
    store: Warehouse,
    analysis: Analysis,
    subject: str,
    milestone: int,
    month: str,
    base: Selection | None,
) -> tuple[Audit, Analysis]:
    """A milestone claim as of ``month``: read from the newest snapshot on or before its last
    day; with none, undecided (a later snapshot cannot date a crossing)."""
    from hubpulse.analysis.history.estimator import parse_month
    from hubpulse.analysis.snapshot.stored import load_analysis
    from hubpulse.ingest.sources import month_days

    parse_month(month)
    end = month_days(month)[1]
    dates = store.snapshot_dates()
    before = [d for d in dates if d <= end]
    if not before:
        held = [d.isoformat() for d in dates]
        found = undecided_milestone(
            analysis.registry, subject, milestone, month, end.isoformat(), held
        )
        return found, analysis
    if analysis.snapshot_date != before[-1]:
        analysis = load_analysis(settings, before[-1], store)
    analyses: dict[Mode, Analysis] = {m: analysis for m in MODES}
    return audit_milestone(analyses, subject, milestone, base, as_of=month), analysis


def headline_audits(
    analysis: Analysis,
    subject: str,
    next_n: int,
    settings: Settings,
    base: Selection | None = None,
) -> list[Audit]:
    """The report's audits over the snapshot: ``subject`` against the next N, and against every
    named set whose subject is ``subject`` or its vendor (``base``: tasks, exclusions and
    thresholds every definition keeps)."""
    analyses: dict[Mode, Analysis] = {m: analysis for m in MODES}
    rankings: Rankings = {}  # the audits share their 16 rankings
    found = [audit_exceeds(analyses, subject, Against(next=next_n), base=base, rankings=rankings)]
    vendor = analysis.registry.get(subject).vendor
    for named in load_comparison_sets(analysis.registry, settings.comparisons_file).values():
        if named.against and named.subject in (subject, vendor):
            vs = Against(groups=tuple(named.against), name=named.name)
            found.append(audit_exceeds(analyses, named.subject, vs, base=base, rankings=rankings))
    return found


def run_compare(
    settings: Settings,
    subject: str,
    *,
    next_n: int = 8,
    against: str | None = None,
    by: str = "family",
    metric: Metric = "downloads_30d",
    month: str | None = None,
    modes: tuple[Mode, ...] | None = None,
    selection: Selection | None = None,
    date: dt.date | None = None,
    warehouse: Warehouse | None = None,
    analysis: Analysis | None = None,
    hub: str = "hf",
) -> tuple[list[Any], list[Any]]:
    """``compare``: the comparison under each of ``modes`` (default: the settings' mode when it
    was chosen, else both), over the snapshot or the
    month, and what each read (its analysis, or its history); ``warehouse`` and ``analysis``
    (read through it) when the caller holds them. ``hub`` modelscope or both: all-time downloads
    on ModelScope, or on both hubs (``analysis.snapshot.hubs``)."""
    from hubpulse.analysis.history.history import load_history
    from hubpulse.analysis.snapshot.stored import load_analysis
    from hubpulse.store.warehouse import open_store

    vs = comparison_set(settings, by, against, next_n)
    refuse_excluded(settings, subject, selection)
    modes = modes or ((settings.mode,) if settings.mode_given else MODES)
    store = warehouse or open_store(settings)
    if month is not None and hub != "hf":
        raise OptionError("--hub compares all-time downloads of one snapshot: not with --month")
    if month is not None:
        histories = [
            load_history(settings.model_copy(update={"mode": m}), month, month, store, analysis,
                         selection=selection)
            for m in modes
        ]  # fmt: skip
        found = [
            compare_month(h, subject, next_n, month, by=by, against=vs, selection=selection)
            for h in histories
        ]
        return found, histories
    analysis = analysis or load_analysis(settings, date, store)
    if hub != "hf":
        hubs = [compare_hubs(store, analysis, subject, vs, hub, by, m, selection) for m in modes]
        return hubs, [analysis for _ in hubs]
    results = [
        compare_snapshot(
            analysis,
            subject,
            next_n,
            mode=m,
            metric=metric,
            by=by,
            against=vs,
            selection=selection,
        )
        for m in modes
    ]
    return results, [analysis for _ in results]
