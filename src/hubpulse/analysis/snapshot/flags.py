"""Flags: models whose downloads say little about adoption, each with a reason a person can read.

Download counts are a rough gauge: quantized copies re-count the same weights, CI pipelines pull
test repos and small models thousands of times, old repos keep all-time counts their use no
longer supports, and one publisher can push dozens of near-identical derivatives in a day. Four
flags name these cases:

``intermediary``
    a quantized or repackaged copy (GGUF, AWQ, GPTQ, MLX, ONNX, EXL2, bitsandbytes, FP8/INT4/…):
    a model with a parent whose name carries a format token, or a GGUF repo without safetensors
    weights, or an MLX repo. The declared relation ``quantized`` alone is not enough: the Hub
    sets it for any repo that ships a GGUF or ONNX file beside its own weights (original models
    such as ``HuggingFaceTB/SmolLM2-1.7B-Instruct`` or ``deepseek-ai/DeepSeek-V3.1-Terminus``).
``dormant``
    its all-time count is more than ``dormant`` times what its 30-day count over its age
    supports (30-day count × age in months, at least one month), and at least ``dormant_min``.
``ci_like``
    a test repository (the usual test organisations, or a name token such as ``tiny-random``,
    ``test``, ``dummy``, ``debug``), or a model with at least ``ci_min`` 30-day downloads whose
    downloads per like are more than ``ci`` times its peers' median (peers: models of the same
    task with at least ``PEER_FLOOR`` 30-day downloads; all such models where a task has fewer
    than ``PEER_MIN`` of them).
``flood``
    one of at least ``flood`` derivatives of the same parent that the same publisher created
    within ``FLOOD_DAYS`` days of it.

What the flags are computed from (``model_signals``: task, copy format, test reason, like ratio,
flood size, age) is stored with the snapshot's analysis; the thresholds (``Thresholds``) apply
when a question is asked, so changing one costs nothing. Robust counting (``selection``) leaves
flagged models out and reports how much it removed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.snapshot.dimensions import model_dimensions
from hubpulse.errors import HubpulseError, ModelNotFoundError
from hubpulse.store.derived import digest

if TYPE_CHECKING:
    from hubpulse.analysis.snapshot.snapshot import Analysis

FLAGS = ("intermediary", "dormant", "ci_like", "flood")
SIGNALS = "signals"

FLOOD_DAYS = 7
PEER_FLOOR = 1_000
PEER_MIN = 20
TEST_ORGS = ("hf-internal-testing", "hf-tiny-model-private", "fxmarty-testing")
_TEST_ORG = r"-internal-testing$"
_TEST_NAME = (
    r"(?:^|[-_.])(tiny-random|tiny_random|random-tiny|test|testing|dummy|debug)(?:$|[-_.\d])"
)
_FORMAT = (
    r"(?:^|[-_.])(gguf|awq|gptq|mlx|onnx|exl2|bnb|fp8|int4|int8|4bit|8bit|nf4|w4a16|w8a8)"
    r"(?:$|[-_.])"
)


class ThresholdError(HubpulseError):
    """A ``--threshold`` that names no threshold or holds no number."""


@dataclass(frozen=True)
class Thresholds:
    """When a signal becomes a flag (defaults documented in the module docstring)."""

    dormant: float = 100.0
    dormant_min: int = 100_000
    ci: float = 200.0
    ci_min: int = 10_000
    flood: int = 10

    @classmethod
    def parse(cls, given: list[str] | None) -> Thresholds:
        """``NAME=VALUE`` pairs (``--threshold dormant=50``) over the defaults."""
        names = {f.name.replace("_", "-"): f for f in fields(cls)}
        values: dict[str, Any] = {}
        for item in given or []:
            name, _, value = item.partition("=")
            found = names.get(name.strip().lower().replace("_", "-"))
            if found is None or not value:
                raise ThresholdError(
                    f"--threshold {item!r}: use NAME=VALUE with NAME one of {', '.join(names)}"
                )
            values[found.name] = _threshold(item, value, integer=found.type in ("int", int))
            if found.name == "flood" and values["flood"] < 2:  # a model is a flood of one
                raise ThresholdError(
                    f"--threshold {item!r}: a flood is at least 2 derivatives (1 flags every model)"
                )
        return cls(**values)

    def describe(self) -> str:
        return (
            f"dormant > {self.dormant:g}× (all-time ≥ {self.dormant_min:,}), "
            f"CI-like > {self.ci:g}× peers' downloads per like (30-day ≥ {self.ci_min:,}), "
            f"flood ≥ {self.flood} derivatives in {FLOOD_DAYS} days"
        )


# The largest threshold taken: a count past a quadrillion or a ratio past a billion is a typo.
_CEILING = {True: 10**15, False: 1e9}


def _threshold(item: str, value: str, *, integer: bool) -> float | int:
    """``value`` of ``--threshold item`` as its field's type, positive, finite and below the
    ceiling; a whole number where the field counts (``flood=0.5`` is refused, not read as 0)."""
    try:
        number = float(value)
    except ValueError:
        raise ThresholdError(f"--threshold {item!r}: {value!r} is not a number") from None
    ceiling = _CEILING[integer]
    if not math.isfinite(number) or number <= 0 or number > ceiling:
        raise ThresholdError(
            f"--threshold {item!r}: the value must be a positive number up to {ceiling:,.0f}"
        )
    if integer and not number.is_integer():
        raise ThresholdError(f"--threshold {item!r}: the value must be a whole number")
    return int(number) if integer else number


def marks_key(thresholds: Thresholds) -> str:
    """The name the flag marks of ``thresholds`` are cached under: ``marks`` (the name of the
    stored table) for the default thresholds, ``marks_<digest>`` for others."""
    if thresholds == Thresholds():
        return "marks"
    return "marks_" + digest(asdict(thresholds))


def model_signals(analysis: Analysis) -> ir.Table:
    """model_id, task, copy_format, copy_of, test_reason, like_ratio, peer_median, peers,
    flood_size, flood_parent, age_days: what the flags are computed from (stored)."""
    return analysis.once(SIGNALS, lambda: compute_signals(analysis))


def compute_signals(analysis: Analysis) -> ir.Table:
    """``model_signals`` computed from the snapshot (what the stored stage holds)."""
    models, edges = analysis.models, analysis.lineage.edges
    org = models.model_id.split("/")[0]
    name = models.model_id.split("/")[1].lower()
    day = models.created_at.date()
    base = models.select(
        "model_id",
        "pipeline_tag",
        "downloads_30d",
        "likes",
        token=name.re_extract(_FORMAT, 1).nullif(""),
        packaged=ibis.cases(
            (models.is_gguf & ~models.tags.contains("safetensors").fill_null(False), "gguf"),
            (models.library_name == "mlx", "mlx"),
            else_=ibis.null("string"),
        ),
        test_reason=ibis.cases(
            (org.isin(TEST_ORGS) | org.lower().re_search(_TEST_ORG), "test organisation " + org),
            (
                name.re_search(_TEST_NAME),
                "test repository (name token '" + name.re_extract(_TEST_NAME, 1) + "')",
            ),
            else_=ibis.null("string"),
        ),
        age_days=(ibis.literal(analysis.snapshot_date) - day).cast("int64"),
    )
    parents = edges.group_by(model_id=edges.child).aggregate(copy_of=edges.parent.min())
    task = _tasks(analysis)
    joined = base.left_join(parents, "model_id").left_join(task, "model_id")
    signals = joined.select(
        "model_id",
        "test_reason",
        "age_days",
        task=ibis.coalesce(joined.pipeline_tag, joined.root_task),
        copy_format=ibis.cases(
            (joined.token.notnull() & joined.copy_of.notnull(), joined.token.upper()),
            (joined.packaged.notnull(), joined.packaged.upper()),
            else_=ibis.null("string"),
        ),
        copy_of=joined.copy_of,
        per_like=joined.downloads_30d.cast("float64") / (joined.likes.fill_null(0) + 1),
        downloads_30d=joined.downloads_30d,
    )
    signals = _with_peers(signals)
    return signals.left_join(_floods(analysis), "model_id").select(
        "model_id",
        "task",
        "copy_format",
        "copy_of",
        "test_reason",
        "like_ratio",
        "peer_median",
        "peers",
        "age_days",
        flood_size=ibis._.flood_size.fill_null(1),
        flood_parent=ibis._.flood_parent,
    )


def _tasks(analysis: Analysis) -> ir.Table:
    """model_id, root_task: the pipeline tag of a model's root (for models that carry none)."""
    roots, models = analysis.lineage.roots, analysis.models
    tags = models.select(root_id=models.model_id, tag=models.pipeline_tag)
    joined = roots.join(tags, "root_id")
    return joined.group_by("model_id").aggregate(root_task=joined.tag.min())


def _with_peers(signals: ir.Table) -> ir.Table:
    """``like_ratio``: a model's downloads per like over the median of its peers'."""
    pool = signals.filter(signals.downloads_30d >= PEER_FLOOR)
    by_task = pool.group_by(peer_task=pool.task).aggregate(
        task_median=pool.per_like.median(), n=pool.count()
    )
    by_task = by_task.filter(by_task.n >= PEER_MIN).drop("n")
    overall = pool.aggregate(all_median=pool.per_like.median())
    left = signals.view()
    joined = left.left_join(by_task, left.task == by_task.peer_task).drop("peer_task")
    joined = joined.cross_join(overall)
    median = ibis.coalesce(joined.task_median, joined.all_median)
    return joined.mutate(
        peer_median=median,
        peers=ibis.ifelse(joined.task_median.notnull(), joined.task, "all tasks"),
        like_ratio=joined.per_like / ibis.greatest(median, 1e-9),
    )


def _floods(analysis: Analysis) -> ir.Table:
    """model_id, flood_size, flood_parent: the largest number of derivatives of one parent its
    publisher created within ``FLOOD_DAYS`` days of the model (itself included)."""
    models, edges = analysis.models, analysis.lineage.edges
    born = models.select(
        child=models.model_id,
        author=models.model_id.split("/")[0],
        day=models.created_at.date().epoch_days(),
    )
    rows = edges.select("child", "parent").join(born, "child").filter(ibis._.day.notnull())
    window = ibis.window(
        group_by=["author", "parent"], order_by="day", range=(-FLOOD_DAYS, FLOOD_DAYS)
    )
    sized = rows.mutate(flood_size=rows.child.count().over(window))
    best = ibis.row_number().over(group_by="child", order_by=[ibis.desc("flood_size"), "parent"])
    ranked = sized.mutate(place=best)
    top = ranked.filter(ranked.place == 0)
    return top.select(model_id=top.child, flood_size=top.flood_size, flood_parent=top.parent)


Judged = tuple[ir.Table, ir.NumericValue, ir.NumericValue, ir.NumericValue]


def _judged(analysis: Analysis, model_id: str | None = None) -> Judged:
    """The signals beside each model's counts (of ``model_id`` alone, when given), its 30-day
    count (0 when unknown), its age in months (at least one) and its dormancy (all-time over
    what the 30-day count supports over that age)."""
    dims = model_dimensions(analysis)
    signals = model_signals(analysis)
    if model_id is not None:
        signals = signals.filter(signals.model_id == model_id)
    s = signals.join(dims.select("model_id", "downloads_30d", "downloads_all_time"), "model_id")
    dl30 = s.downloads_30d.fill_null(0)
    months = ibis.greatest(s.age_days.cast("float64") / 30.0, 1.0)
    return s, dl30, months, s.downloads_all_time / (ibis.greatest(dl30, 1) * months)


def _rules(
    s: ir.Table, dl30: ir.NumericValue, dormancy: ir.NumericValue, t: Thresholds
) -> dict[str, ir.BooleanValue]:
    """Each flag's rule (see the module docstring), true or false for every model."""
    ratio = s.test_reason.isnull() & (dl30 >= t.ci_min) & (s.like_ratio > t.ci)
    return {
        "intermediary": s.copy_format.notnull(),
        "dormant": (
            s.age_days.notnull() & (s.downloads_all_time >= t.dormant_min) & (dormancy > t.dormant)
        ).fill_null(False),
        "test": s.test_reason.notnull(),
        "ratio": ratio.fill_null(False),
        "flood": (s.flood_size >= t.flood).fill_null(False),
    }


def flag_marks(analysis: Analysis, thresholds: Thresholds) -> ir.Table:
    """model_id, intermediary, dormant, ci_like, flood (booleans) of every flagged model under
    ``thresholds``: what robust counting leaves out (computed once per thresholds)."""
    return analysis.once(marks_key(thresholds), lambda: compute_marks(analysis, thresholds))


def compute_marks(analysis: Analysis, thresholds: Thresholds) -> ir.Table:
    """``flag_marks`` computed from the signals (the default thresholds' are stored)."""
    s, dl30, _, dormancy = _judged(analysis)
    rule = _rules(s, dl30, dormancy, thresholds)
    marks = s.select(
        "model_id",
        intermediary=rule["intermediary"],
        dormant=rule["dormant"],
        ci_like=rule["test"] | rule["ratio"],
        flood=rule["flood"],
    )
    return marks.filter(marks.intermediary | marks.dormant | marks.ci_like | marks.flood)


def model_flags(
    analysis: Analysis, thresholds: Thresholds, model_id: str | None = None
) -> ir.Table:
    """model_id, flag, reason: one row per flag a model carries under ``thresholds`` (of
    ``model_id`` alone, when given)."""
    s, dl30, months, dormancy = _judged(analysis, model_id)
    t, rule = thresholds, _rules(s, dl30, dormancy, thresholds)

    def flag(kind: str, when: ir.BooleanValue, *reason: Any) -> ir.Table:
        hit = s.filter(when)
        return hit.select("model_id", flag=ibis.literal(kind), reason=_text(*reason))

    return ibis.union(
        flag(
            "intermediary",
            rule["intermediary"],
            s.copy_format,
            ibis.ifelse(s.copy_of.notnull(), " copy of " + s.copy_of, " packaging of weights"),
        ),
        flag(
            "dormant",
            rule["dormant"],
            "all-time ",
            _num(s.downloads_all_time),
            " is ",
            _num(dormancy),
            "× what its 30-day count (",
            _num(dl30),
            ") over its age (",
            _num(months),
            f" months) supports (threshold {t.dormant:g}×)",
        ),
        flag("ci_like", rule["test"], s.test_reason),
        flag(
            "ci_like",
            rule["ratio"],
            "downloads per like ",
            _num(s.peer_median * s.like_ratio),
            " are ",
            _num(s.like_ratio),
            "× the median of its peers (",
            s.peers,
            f"; threshold {t.ci:g}×)",
        ),
        flag(
            "flood",
            rule["flood"],
            "one of ",
            s.flood_size.cast("string"),
            " derivatives of ",
            s.flood_parent,
            f" its publisher created within {FLOOD_DAYS} days (threshold {t.flood})",
        ),
    )


def _num(value: ir.NumericValue) -> ir.StringValue:
    return value.round().cast("int64").cast("string")


def _text(*parts: Any) -> ir.StringValue:
    """Words and values joined into one string column."""
    out = ibis.literal("")
    for part in parts:
        out = out + (ibis.literal(part) if isinstance(part, str) else part)
    return out


def flag_table(analysis: Analysis, thresholds: Thresholds, limit: int | None = None) -> ir.Table:
    """model_id, downloads_30d, downloads_all_time, flag, reason: every flag of the snapshot,
    most downloaded models first (the first ``limit`` models)."""
    flags = model_flags(analysis, thresholds)
    dims = model_dimensions(analysis).select("model_id", "downloads_30d", "downloads_all_time")
    models = dims.semi_join(flags, "model_id").order_by([ibis.desc("downloads_30d"), "model_id"])
    if limit:
        models = models.limit(limit)
    rows = models.join(flags, "model_id")
    return rows.order_by([ibis.desc("downloads_30d"), "model_id", "flag"])


def describe_flags(analysis: Analysis, model_id: str, thresholds: Thresholds) -> dict[str, Any]:
    """One model's flags with reasons, and the signals they were judged on."""
    model_id = analysis.require_model(model_id)
    signals = model_signals(analysis)
    found = signals.filter(signals.model_id == model_id).to_pyarrow().to_pylist()
    if not found:
        raise ModelNotFoundError(
            f"model {model_id!r} is not in the {analysis.snapshot_date} snapshot"
        )
    rows = model_flags(analysis, thresholds, model_id).order_by(["flag", "reason"])
    return {
        "model_id": model_id,
        "snapshot_date": analysis.snapshot_date.isoformat(),
        "flags": rows.select("flag", "reason").to_pyarrow().to_pylist(),
        "signals": {k: v for k, v in found[0].items() if k != "model_id"},
        "thresholds": thresholds.describe(),
    }
