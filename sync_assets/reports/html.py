"""The finance report as one self-contained HTML file, so finance can open it offline and archive it.

Everything the page needs is in the file: CSS in a <style>, charts as inline SVG drawn here, no
JavaScript, no fonts, images or links to other hosts (a Content-Security-Policy meta tag makes the
browser refuse any that slip in). Every value from the data is passed through `html.escape`, because
ids, descriptions and sample values come from source systems we do not control.

Money stays Decimal all the way to the page: amounts are formatted with `f"{value:,.2f}"` on the
Decimal itself. Floats appear only as chart geometry (bar lengths), never as a printed amount.
"""

from __future__ import annotations

import contextlib
import math
import os
import pathlib
import tempfile
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from itertools import zip_longest

from sync_assets.reports.model import CheckOutcome, ExceptionRow, ReportData

REPORT_FILE = "report.html"

#: No network, no scripts: only the inline <style> and inline SVG are allowed to render.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 0 auto; max-width: 1200px; padding: 1.5rem; color: #1f2933; background: #fff; line-height: 1.4; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
h2 { font-size: 1.25rem; border-bottom: 2px solid #e4e7eb; padding-bottom: .2rem; margin-top: 2rem; }
.meta { color: #52606d; margin: .1rem 0; }
.banner { font-size: 1.5rem; font-weight: 700; padding: .8rem 1rem; border-radius: 6px; margin: 1rem 0 .5rem; }
.banner.succeeded { background: #e3f9e5; color: #05400a; border: 2px solid #3f9142; }
.banner.failed { background: #ffe3e3; color: #610404; border: 2px solid #ba2525; }
#failure-reasons { color: #610404; font-weight: 600; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: .8rem; }
.tile { border: 1px solid #cbd2d9; border-radius: 6px; padding: .7rem .9rem; background: #f5f7fa; }
.tile .label { font-size: .85rem; color: #52606d; }
.tile .value { font-size: 1.35rem; font-weight: 700; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #d9e2ec; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f4f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.ids { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .8rem; word-break: break-all; }
tr.failed td, tr.stale td { background: #ffe3e3; }
tr.failed td.result, tr.stale td.flag { color: #ba2525; font-weight: 700; }
.empty { color: #52606d; font-style: italic; }
svg { max-width: 100%; height: auto; display: block; margin: .6rem 0; }
svg text { font-family: inherit; font-size: 12px; fill: #1f2933; }
svg .bar { fill: #2680c2; }
svg .bar.stale { fill: #ba2525; }
svg .axis { stroke: #52606d; stroke-width: 1; }
svg .marker { stroke: #ba2525; stroke-width: 1.5; stroke-dasharray: 4 3; }
@media print { .tile, tr.failed td, tr.stale td, .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""


def render_report(data: ReportData) -> str:
    """The whole report as one HTML5 document (a str), sections in the order finance reads them."""
    title = f"Waybill finance report — {data.run_date.isoformat()}"
    sections = [
        _header(data, title),
        _summary(data),
        _cycle_time(data.cycle_time_hours),
        _exceptions(data),
        _checks(data.checks),
        _dead_letters(data),
        _freshness(data),
    ]
    if data.notes:
        sections.append(_section("notes", "Notes", _list(data.notes)))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


def write_report(data: ReportData, directory: pathlib.Path) -> pathlib.Path:
    """Write report.html into `directory` (created if missing) and return its path.

    The page is written to a temporary file in the same directory and moved into place with
    os.replace, so a reader (or a sync to a file share) never sees a half-written report.
    """
    page = render_report(data)  # first, so a rendering error leaves nothing on disk
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / REPORT_FILE
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".report-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(page)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the report is meant to be read by others
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


# --- sections -------------------------------------------------------------------------------------


def _header(data: ReportData, title: str) -> str:
    """Title, the instant the rules were evaluated at, and a banner finance cannot miss when invoicing stopped."""
    status, css = ("Run succeeded", "succeeded") if data.succeeded else ("Run FAILED", "failed")
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">as of {escape(_utc(data.as_of))}</p>',
        f'<p class="meta">generated at {escape(_utc(data.generated_at, seconds=True))}</p>',
        f'<p class="meta">run id {escape(data.run_id or "—")}</p>',
        f'<div class="banner {css}" role="status">{escape(status)}</div>',
    ]
    if data.failure_reasons:
        body.append("<h2>Failure reasons</h2>")
        body.append(_list(data.failure_reasons, id="failure-reasons"))
    return _section("header", None, "\n".join(body))


def _summary(data: ReportData) -> str:
    """Key figures as tiles: what was invoiced, how fast, and what is at risk or disputed."""
    median, p90 = _cycle_time_stats(data.cycle_time_hours)
    at_risk = _sum_per_currency(total.amount_at_risk for total in data.exception_totals)
    open_exceptions = sum(total.count for total in data.exception_totals)
    tiles = [
        _tile("invoices-posted", "Invoices posted (this run)", _count(data.invoices_posted)),
        _tile("amount-invoiced", "Amount invoiced (this run)", _money_lines(data.amount_invoiced)),
        _tile("invoices-total", "Invoices posted (all time)", _count(data.invoices_posted_total)),
        _tile("cycle-median", "Cycle time POD → invoice, median", _hours(median)),
        _tile("cycle-p90", "Cycle time POD → invoice, p90", _hours(p90)),
        _tile("open-exceptions", "Open exceptions", _count(open_exceptions)),
        _tile("amount-at-risk", "Amount at risk", _money_lines(at_risk)),
        _tile(
            "disputes",
            "Open disputes",
            _count(data.open_disputes)
            + ("<br>" + _money_lines(data.open_dispute_amount) if data.open_dispute_amount else ""),
        ),
    ]
    return _section("summary", "Summary", f'<div class="tiles">{"".join(tiles)}</div>')


def _cycle_time(hours: Sequence[float]) -> str:
    """How long POD → invoice took for this run's invoices; the shape shows stragglers a median hides."""
    if not hours:
        return _section("cycle-time", "Invoice cycle time", _empty("No invoices posted in this run."))
    return _section("cycle-time", "Invoice cycle time (POD signed → invoice issued)", _histogram_svg(hours))


def _exceptions(data: ReportData) -> str:
    """Open reconciliation exceptions: where the money at risk is, by type and by largest item."""
    parts = []
    bars = [
        _Bar(
            label=f"{total.exception_type} ({total.count:,})",
            value=float(sum(total.amount_at_risk.values(), Decimal(0))),  # bar length only
            text=_money_join(total.amount_at_risk) or "nothing at risk",
        )
        for total in data.exception_totals
    ]
    if any(bar.value > 0 for bar in bars):
        parts.append(_bar_chart_svg(bars, title="Amount at risk by exception type (bar: sum over currencies)"))
    else:
        parts.append(_empty("No amount at risk."))
    if data.exception_totals:
        parts.append(
            _table(
                ["Exception type", "Open", "Amount at risk"],
                [[escape(t.exception_type), _count(t.count), _money_lines(t.amount_at_risk)] for t in data.exception_totals],
                column_classes=["", "num", "num"],
            )
        )
    if data.top_exceptions:
        parts.append(f"<h3>Largest open exceptions (top {len(data.top_exceptions)})</h3>")
        parts.append(_exception_rows_table(data.top_exceptions))
    else:
        parts.append(_empty("No open reconciliation exceptions."))
    href = escape("./" + urllib.parse.quote(data.csv_name))  # "./" keeps any name a relative path
    parts.append(
        f'<p>The exceptions as CSV: <a href="{href}">{escape(data.csv_name)}</a>, next to this report.</p>'
    )
    return _section("exceptions", "Reconciliation exceptions", "\n".join(parts))


def _exception_rows_table(rows: Sequence[ExceptionRow]) -> str:
    """The CSV's ten columns, under the CSV's own column names, so finance can match a row to the file."""
    headers = [
        "exception_type", "shipment_id", "sku", "location_id", "expected",
        "actual", "amount_at_risk", "currency", "correlation_id", "detected_at",
    ]  # fmt: skip
    body = [
        [
            escape(row.exception_type),
            _text(row.shipment_id),
            _text(row.sku),
            _text(row.location_id),
            _text(row.expected),
            _text(row.actual),
            "—" if row.amount_at_risk is None else f"{row.amount_at_risk:,.2f}",
            _text(row.currency),
            _text(row.correlation_id),
            escape(_utc(row.detected_at, seconds=True)),
        ]
        for row in rows
    ]
    return _table(headers, body, column_classes=["", "", "", "", "", "", "num", "", "", ""], css="exception-rows")


def _checks(checks: Sequence[CheckOutcome]) -> str:
    """Every quality check's latest result; a failed blocking check is why invoicing stops."""
    passed = sum(check.passed for check in checks)
    rows = [
        [
            escape(c.asset),
            escape(c.check),
            "yes" if c.blocking else "no",
            "PASSED" if c.passed else "FAILED",
            _count(c.offending_count),
            escape(c.offending_sample),
            escape(c.description),
        ]
        for c in checks
    ]
    classes = ["" if c.passed else "failed" for c in checks]
    body = [f'<p>{passed} of {len(checks)} checks passed</p>']
    if checks:
        body.append(
            _table(
                ["Asset", "Check", "Blocking", "Result", "Offending", "Sample ids", "Description"],
                rows,
                column_classes=["", "", "", "result", "num", "ids", ""],
                row_classes=classes,
                css="checks",
            )
        )
    else:
        body.append(_empty("No quality checks were evaluated."))
    return _section("checks", "Quality checks", "\n".join(body))


def _dead_letters(data: ReportData) -> str:
    """Source rows that could not be loaded: invoices for them may be missing until someone fixes them."""
    open_rows = [d for d in data.dead_letters if d.open > 0]
    if not open_rows:
        return _section("dead-letters", "Dead letters", _empty("No open dead letters."))
    table = _table(
        ["Source table", "Open", "Oldest first seen"],
        [
            [escape(d.source_table), _count(d.open), escape(_utc_or_dash(d.oldest_first_seen_at))]
            for d in open_rows
        ],
        column_classes=["", "num", ""],
    )
    total = sum(d.open for d in open_rows)
    return _section("dead-letters", "Dead letters", f"{table}\n<p>{_count(total)} open dead letters in total.</p>")


def _freshness(data: ReportData) -> str:
    """How stale each source was at report time: a stale source means figures may be incomplete."""
    if not data.freshness:
        return _section("freshness", "Source freshness", _empty("No source freshness recorded."))
    rows, classes, bars = [], [], []
    for f in data.freshness:
        lag = "—" if f.lag_minutes is None else f"{f.lag_minutes:,.1f}"
        rows.append(
            [
                escape(f.system),
                escape(f.sla_class),
                _count(f.sla_minutes),
                escape(_utc_or_dash(f.last_capture_at, never="never")),
                lag,
                "yes" if f.fresh else "no",
            ]
        )
        classes.append("" if f.fresh else "stale")
        ratio = _lag_ratio(f.lag_minutes, f.sla_minutes)
        text = "never captured" if f.lag_minutes is None else f"{lag} min of {f.sla_minutes:,} min SLA"
        bars.append(_Bar(label=f.system, value=ratio, text=text, css="" if f.fresh else "stale"))
    scale = min(max([bar.value for bar in bars] + [1.0]), _MAX_LAG_RATIO) * 1.1
    chart = _bar_chart_svg(bars, title="Lag as a share of the SLA (dashed line: SLA)", scale_max=scale, marker=1.0)
    table = _table(
        ["Source", "SLA class", "SLA minutes", "Last capture", "Lag minutes", "Fresh"],
        rows,
        column_classes=["", "", "num", "", "num", "flag"],
        row_classes=classes,
        css="freshness",
    )
    return _section("freshness", "Source freshness", f"{table}\n{chart}")


# --- figures --------------------------------------------------------------------------------------

#: Bars of lag beyond this many SLAs are drawn at this length, so one dead source does not flatten the rest.
_MAX_LAG_RATIO = 3.0


def _lag_ratio(lag_minutes: float | None, sla_minutes: int) -> float:
    """Lag in SLAs, capped for drawing; a never-captured source counts as the cap."""
    if lag_minutes is None:
        return _MAX_LAG_RATIO
    if sla_minutes <= 0:
        return _MAX_LAG_RATIO if lag_minutes > 0 else 0.0
    return min(lag_minutes / sla_minutes, _MAX_LAG_RATIO)


def _cycle_time_stats(hours: Sequence[float]) -> tuple[float | None, float | None]:
    """Median and p90 (linear interpolation between ranks), or (None, None) when nothing was invoiced."""
    if not hours:
        return None, None
    return _percentile(hours, 0.5), _percentile(hours, 0.9)


def _percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile by linear interpolation between ranks (numpy's default): for q=0.5 it is the usual median."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _sum_per_currency(amounts: Iterable[Mapping[str, Decimal]]) -> dict[str, Decimal]:
    """Add per-currency amounts without ever mixing currencies."""
    totals: dict[str, Decimal] = {}
    for per_currency in amounts:
        for currency, amount in per_currency.items():
            totals[currency] = totals.get(currency, Decimal(0)) + amount
    return totals


# --- SVG ------------------------------------------------------------------------------------------


def _nice_width(raw: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at least `raw`, so bin edges are round numbers of hours."""
    if raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def _histogram_svg(hours: Sequence[float]) -> str:
    """Invoices per cycle-time bin: about ten bins of a round width, starting at zero hours.

    Bins are [edge, next edge); each bar carries a <title> with its range and count, shown on hover.
    """
    low = min(0.0, min(hours))
    width = _nice_width((max(hours) - low) / 10)
    start = math.floor(low / width) * width
    n_bins = int((max(hours) - start) // width) + 1
    counts = [0] * n_bins
    for value in hours:
        counts[min(int((value - start) // width), n_bins - 1)] += 1

    w, h, left, right, top, bottom = 720, 280, 56, 16, 16, 52
    plot_w, plot_h = w - left - right, h - top - bottom
    bin_w = plot_w / n_bins
    y_max = max(counts)
    y_step = max(1, math.ceil(y_max / 5))
    y_top = y_step * math.ceil(y_max / y_step)

    decimals = max(0, -math.floor(math.log10(width)))

    def edge(i: int) -> str:
        return f"{start + i * width:,.{decimals}f}"

    def y_of(count: float) -> float:
        return top + plot_h - plot_h * count / y_top

    parts = [
        f'<svg class="chart histogram" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="Histogram of invoice cycle time in hours">'
    ]
    for i, count in enumerate(counts):
        x, y = left + i * bin_w, y_of(count)
        parts.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{y:.1f}" width="{bin_w - 2:.1f}" height="{top + plot_h - y:.1f}">'
            f"<title>{escape(edge(i))}–{escape(edge(i + 1))} h: {count} invoice{'s' if count != 1 else ''}</title></rect>"
        )
    for i in range(n_bins + 1):
        x = left + i * bin_w
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{escape(edge(i))}</text>')
    for count in range(0, y_top + 1, y_step):
        parts.append(f'<text x="{left - 6}" y="{y_of(count) + 4:.1f}" text-anchor="end">{count}</text>')
    parts += [
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{w - right}" y2="{top + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>',
        f'<text x="{left + plot_w / 2:.1f}" y="{h - 10}" text-anchor="middle">hours from POD signed to invoice issued</text>',
        f'<text transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">invoices</text>',
        "</svg>",
    ]
    return "".join(parts)


@dataclass(frozen=True)
class _Bar:
    """One row of a horizontal bar chart: `value` sets the length, `text` is what is printed beside it."""

    label: str
    value: float
    text: str
    css: str = ""


def _bar_chart_svg(
    bars: Sequence[_Bar], *, title: str, scale_max: float | None = None, marker: float | None = None
) -> str:
    """Horizontal bars with a label on the left and the exact figure on the right.

    Lengths are relative to `scale_max` (default: the longest bar); `marker` draws a dashed reference
    line at that value (used for "1 × SLA").
    """
    label_w, bar_w, text_w, row_h, top = 240, 300, 260, 26, 28
    w, h = label_w + bar_w + text_w, top + row_h * len(bars) + 8
    scale = scale_max or max(bar.value for bar in bars) or 1.0
    parts = [
        f'<svg class="chart bars" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    for i, bar in enumerate(bars):
        y = top + i * row_h
        length = bar_w * min(bar.value, scale) / scale
        css = f"bar {bar.css}".strip()
        parts += [
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{escape(bar.label)}</text>',
            f'<rect class="{css}" x="{label_w}" y="{y + 4}" width="{length:.1f}" height="{row_h - 8}">'
            f"<title>{escape(bar.label)}: {escape(bar.text)}</title></rect>",
            f'<text x="{label_w + bar_w + 8}" y="{y + 16}">{escape(bar.text)}</text>',
        ]
    parts.append(f'<line class="axis" x1="{label_w}" y1="{top}" x2="{label_w}" y2="{h - 4}"/>')
    if marker is not None:
        x = label_w + bar_w * marker / scale
        parts.append(f'<line class="marker" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{h - 4}"/>')
    parts.append("</svg>")
    return "".join(parts)


# --- HTML building blocks -------------------------------------------------------------------------


def _section(id: str, heading: str | None, body: str) -> str:
    """One <section id=...>: the ids are the report's stable anchors (and what the tests look for)."""
    title = f"<h2>{escape(heading)}</h2>\n" if heading else ""
    return f'<section id="{id}">\n{title}{body}\n</section>'


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    column_classes: Sequence[str] = (),
    row_classes: Sequence[str] = (),
    css: str = "",
) -> str:
    """A table of cells that are already HTML (callers escape values); headers are escaped here.

    `column_classes` styles a whole column ("num" right-aligns figures); `row_classes` flags rows
    ("failed", "stale") so they stand out.
    """
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    lines = []
    for i, row in enumerate(rows):
        row_css = row_classes[i] if i < len(row_classes) else ""
        cells = "".join(
            f'<td class="{column_class}">{cell}</td>' if column_class else f"<td>{cell}</td>"
            for cell, column_class in zip_longest(row, column_classes[: len(row)], fillvalue="")
        )
        lines.append((f'<tr class="{row_css}">' if row_css else "<tr>") + cells + "</tr>")
    table_css = f' class="{css}"' if css else ""
    return f"<table{table_css}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(lines) + "\n</tbody>\n</table>"


def _tile(id: str, label: str, value_html: str) -> str:
    return (
        f'<div class="tile" id="{id}"><div class="label">{escape(label)}</div>'
        f'<div class="value">{value_html}</div></div>'
    )


def _list(items: Iterable[str], *, id: str | None = None) -> str:
    attr = f' id="{id}"' if id else ""
    return f"<ul{attr}>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"


def _empty(message: str) -> str:
    return f'<p class="empty">{escape(message)}</p>'


def _money(currency: str, amount: Decimal) -> str:
    """'USD 12,345.67' from the Decimal itself (no float); an amount without a currency says so."""
    figure = f"{amount:,.2f}"
    return f"{currency} {figure}" if currency else f"{figure} (no currency)"


def _money_join(amounts: Mapping[str, Decimal]) -> str:
    """Plain-text amounts per currency, sorted by currency, e.g. 'EUR 10.00 · USD 5.00' ('' when none)."""
    return " · ".join(_money(currency, amounts[currency]) for currency in sorted(amounts))


def _money_lines(amounts: Mapping[str, Decimal]) -> str:
    """Escaped amounts per currency, one per line; '—' when there are none."""
    if not amounts:
        return "—"
    return "<br>".join(escape(_money(currency, amounts[currency])) for currency in sorted(amounts))


def _count(n: int) -> str:
    return f"{n:,}"


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} h"


def _text(value: str | None) -> str:
    return "—" if value is None else escape(value)


def _utc(moment: datetime, *, seconds: bool = False) -> str:
    """An instant in UTC, e.g. '2026-11-01 00:00 UTC'; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def _utc_or_dash(moment: datetime | None, *, never: str = "—") -> str:
    return never if moment is None else _utc(moment)
