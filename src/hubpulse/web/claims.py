"""The dashboard's claims: compare and audit over a view's snapshot and months (the same
library calls as ``hubpulse compare`` and ``hubpulse audit``)."""

from __future__ import annotations

from typing import Any

from hubpulse.analysis.claims.month_comparison import compare_month_rows
from hubpulse.analysis.claims.runs import run_audit, run_compare
from hubpulse.analysis.claims.snapshot_comparison import compare_snapshot_rows
from hubpulse.analysis.history.estimator import parse_month
from hubpulse.analysis.history.history import route_to_evidence
from hubpulse.analysis.snapshot.selection import Selection
from hubpulse.errors import HubpulseError, NoEvidenceError, NotComparableError
from hubpulse.web.views import View, view_meta


def compare_in_view(
    view: View,
    family: str,
    next_n: int,
    month: str | None,
    *,
    by: str = "family",
    against: str | None = None,
    selection: Selection | None = None,
    months: bool = True,
) -> dict[str, Any]:
    """FAMILY (or a vendor, ``by="vendor"``) vs the next N or ``against``: over the snapshot's
    30 days and, with bounds, in ``month`` (default: the latest month held; one the view does
    not hold is a 404). The default claim reads the report's figures; any other is computed
    once with ``compare``'s library call and kept."""
    month = (month or view.report.meta["month"]) if months else None
    if by == "family" and against is None and (selection is None or selection.everything):
        return {**view_meta(view), **_from_report(view, family, next_n, month)}
    if month is not None:
        _check_month(view, month)

    def make() -> dict[str, Any]:
        settings = view.settings.model_copy(update={"mode": view.mode})

        def ask(window: str | None) -> dict[str, Any]:
            found, _ = run_compare(
                settings,
                family,
                next_n=next_n,
                against=against,
                by=by,
                month=window,
                modes=(view.mode,),
                selection=selection,
                warehouse=view.store,
                analysis=view.analysis,
            )
            return found[0].to_dict()  # type: ignore[no-any-return]

        with view.engine:
            return {"snapshot": ask(None), "month": ask(month) if month is not None else None}

    key = ("compare", family.lower(), next_n, by, (against or "").lower(), selection, month)
    return {**view_meta(view), **view.remember(key, make)}


def _from_report(view: View, family: str, next_n: int, month: str | None) -> dict[str, Any]:
    """The default claim (a family against the next N, every model) from the report's
    figures: the snapshot's, and ``month``'s when given."""
    data = view.report.data
    name = view.analysis.registry.get(family).name
    snapshot = compare_snapshot_rows(
        data["families"],
        name,
        next_n,
        mode=view.mode,
        metric="downloads_30d",
        snapshot_date=view.analysis.snapshot_date,
    ).to_dict()
    if month is None:
        return {"snapshot": snapshot, "month": None}
    _check_month(view, month)
    found = compare_month_rows(
        data["monthly"],
        name,
        next_n,
        mode=view.mode,
        month=month,
        min_coverage=view.settings.min_coverage,
    )
    return {"snapshot": snapshot, "month": found.to_dict()}


def months_held(view: View) -> list[str]:
    """The months for which the view holds any group's estimate."""
    rows = view.report.data["monthly"]
    return sorted({r["month"] for r in rows if r["estimate"] is not None and r.get("models")})


def _check_month(view: View, month: str) -> None:
    parse_month(month)
    if month not in months_held(view):
        raise MonthNotHeldError(
            f"no estimate for {month} (no data, not zero): "
            + route_to_evidence(months_held(view), month)
        )


def compare_page_claim(view: View, family: str, next_n: int, month: str | None) -> dict[str, Any]:
    """The compare page's claim: as the API's, but a month with no verdict (no evidence,
    nothing to compare against) is said on the page beside the snapshot's claim."""
    try:
        return compare_in_view(view, family, next_n, month)
    except (MonthNotHeldError, NotComparableError, NoEvidenceError) as exc:
        snapshot = compare_in_view(view, family, next_n, None, months=False)["snapshot"]
        return {**view_meta(view), "snapshot": snapshot, "month": None, "month_error": str(exc)}


def audit_in_view(
    view: View, subject: str, next_n: int, against: str | None, month: str | None
) -> dict[str, Any]:
    """``hubpulse audit SUBJECT``: the claim against the next N or ``against`` (groups or a
    named set) under every definition, over the snapshot or ``month`` (one the view holds:
    else a 404); the report's audits are served as computed, others computed once and kept."""
    if month is not None:
        _check_month(view, month)

    def make() -> dict[str, Any]:
        with view.engine:
            found, _ = run_audit(
                view.settings,
                subject,
                next_n=next_n,
                against=against,
                month=month,
                warehouse=view.store,
                analysis=view.analysis,
            )
        return found.to_dict()

    key = ("audit", subject.lower(), next_n, (against or "").lower(), month)
    return {**view_meta(view), **view.remember(key, make)}


class MonthNotHeldError(LookupError, HubpulseError):
    """A month the dashboard holds no estimates for (404)."""


def market_in_view(
    view: View,
    subject: str,
    ticker: str | None,
    benchmark: str | None,
    *,
    strict: bool = False,
) -> dict[str, Any]:
    """``hubpulse market`` and ``events`` of ``subject`` (``present.market.market_view``),
    computed once per question and kept with the view."""
    from hubpulse.present.market import market_view

    update = {"mode": view.mode, "benchmark": benchmark or view.settings.benchmark}
    settings = view.settings.model_copy(update=update)

    def make() -> dict[str, Any]:
        with view.engine:
            return market_view(view.store, settings, subject, ticker, strict=strict)

    key = ("market", subject.lower(), ticker, settings.benchmark, strict)
    return {**view_meta(view), **view.remember(key, make)}
