"""A drift report people read: Markdown or one self-contained HTML file (standard library only).

Both render the JSON report of ``Comparison.report`` and nothing else, so the file, ``--json``
and the console say the same: the dataset verdict and drift share, each feature's status, the
metric that decided it and its threshold, its p-value, reference vs current statistics and a
histogram of both over the baseline's bins. The HTML has no script, no stylesheet or font from
elsewhere, no image file: its bars are inline SVG, so it opens offline and in a mail client.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from mlops_iac.drift import stats
from mlops_iac.drift.profile import printable

STATUS_WORDS = {
    "ok": "no drift",
    "drift": "DRIFT",
    "drift-small-sample": "DRIFT (small sample)",
    "no-verdict": "no verdict (too few rows)",
    "missing": "COLUMN VANISHED",
    "kind-changed": "KIND CHANGED",
}
VERDICT_WORDS = {
    "drift": "drift",
    "no-drift": "no drift",
    "insufficient-data": "no verdict: fewer rows than minRows",
    "drift-small-sample": "drift on a small sample (fewer rows than minRows, shift overwhelming)",
}
BAR = 24
"""Characters of the longest Markdown histogram bar."""


def render(report: Mapping[str, Any], fmt: str) -> str:
    """The report as ``md`` or ``html`` text."""
    return render_html(report) if fmt == "html" else render_markdown(report)


def _name(text: object) -> str:
    return printable(text, 80)


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _thresholds_line(report: Mapping[str, Any]) -> str:
    t = report["thresholds"]
    js = t["jensenShannon"]
    return (
        f"PSI > {t['psi']:g}; KS > {t['ks']:g} (numeric); Jensen–Shannon distance > {js:g} "
        f"(categorical), log base 2, = {stats.js_base_e(js):.3g} in base e (evidently's base; "
        f"evidently's default 0.1 in base e is {0.1 / stats.js_base_e(1):.3g} here); "
        f"and significant: p-value < {t['significance']:g} shared by "
        f"{report['datasetDrift']['of']} feature(s) (Bonferroni: "
        f"{report['significancePerFeature']:.3g} each"
        + (", ÷100 below minRows" if report["rows"] < t["minRows"] else "")
        + f"); minRows {t['minRows']:,}"
    )


def _summary(report: Mapping[str, Any]) -> list[str]:
    share = report["datasetDrift"]
    return [
        f"Verdict: {VERDICT_WORDS.get(report['verdict'], report['verdict'])}",
        f"Drifted features: {len(report['drifted'])} of {len(report['features'])}"
        + (
            f" ({', '.join(_name(n) for n in report['drifted'][:20])})" if report["drifted"] else ""
        ),
        f"Dataset drift share: {share['drifted']} of {share['of']} = {share['share']:.0%} "
        f"(threshold {share['threshold']:.0%}): "
        + ("dataset drift" if share["detected"] else "no dataset drift"),
        f"Rows checked: {report['rows']:,}; baseline dataset version: "
        f"{_name(report.get('datasetVersion') or '–')}; checked at {report['checkedAt']}",
        f"Thresholds: {_thresholds_line(report)}",
    ]


def _schema_lines(report: Mapping[str, Any]) -> list[tuple[str, Sequence[str]]]:
    return [
        (label, names)
        for label, names in (
            ("Vanished columns (in the baseline, not in the data)", report["missingFeatures"]),
            ("New columns (not in the baseline, not checked)", report.get("unknownFeatures", [])),
            ("Changed kind", report.get("kindChangedFeatures", [])),
            ("Excluded by the stack file", report["thresholds"].get("exclude", [])),
        )
        if names
    ]


def _decided(result: Mapping[str, Any]) -> tuple[str, str, str, str]:
    decided = result.get("decidedBy")
    if not decided:
        return "–", "–", "–", "–"
    return (
        decided["metric"],
        _number(decided["value"]),
        _number(decided["threshold"]),
        _number(decided["pValue"], 3),
    )


def _stat_rows(result: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    ref, cur = result.get("reference"), result.get("current")
    if not ref or not cur:
        return []
    rows = [
        ("rows", _number(ref["count"]), _number(cur["count"])),
        ("missing", _percent(ref["missingShare"]), _percent(cur["missingShare"])),
    ]
    if result["kind"] == "numeric":
        rows.append(("mean", _number(ref["mean"]), _number(cur["mean"])))
        rows += [
            (f"quantile {q}", _number(ref["quantiles"][q]), _number(cur["quantiles"][q]))
            for q in ref["quantiles"]
        ]
        rows += [("min", _number(ref["min"]), _number(cur["min"]))]
        rows += [("max", _number(ref["max"]), _number(cur["max"]))]
    else:
        rows += [
            (f"= {_name(label)!r}", _percent(share), _percent(cur["top"].get(label)))
            for label, share in ref["top"].items()
        ]
        rows.append(("other", _percent(ref["other"]), _percent(cur["other"])))
    return rows


def _bars(result: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    """(label, reference share, current share) of a feature's histogram."""
    histogram = result.get("histogram")
    if histogram:
        edges = histogram["edges"]
        bars = [
            (f"{_number(edges[i])}–{_number(edges[i + 1])}", ref, cur)
            for i, (ref, cur) in enumerate(
                zip(histogram["reference"], histogram["current"], strict=True)
            )
        ]
        if histogram.get("currentBelow"):
            bars.insert(0, (f"< {_number(edges[0])}", 0.0, histogram["currentBelow"]))
        if histogram.get("currentAbove"):
            bars.append((f"> {_number(edges[-1])}", 0.0, histogram["currentAbove"]))
        return bars
    ref, cur = result.get("reference"), result.get("current")
    if not ref or not cur or result["kind"] != "categorical":
        return []
    bars = [
        (_name(label), share, cur["top"].get(label, 0.0)) for label, share in ref["top"].items()
    ]
    bars.append(("other", ref["other"], cur["other"]))
    return bars


# --- Markdown ---------------------------------------------------------------------------------


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("<", "&lt;")


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown (GitHub-flavoured tables, bars drawn with block characters)."""
    out = ["# Drift report", ""]
    out += [f"- {_md(line)}" for line in _summary(report)]
    schema = _schema_lines(report)
    if schema:
        out += ["", "## Schema changes", ""]
        out += [f"- {label}: {_md(', '.join(_name(n) for n in names))}" for label, names in schema]
    out += [
        "",
        "## Features",
        "",
        "| feature | kind | status | deciding metric | value | threshold | p-value |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for name, result in report["features"].items():
        metric, value, threshold, p = _decided(result)
        out.append(
            f"| {_md(_name(name))} | {result['kind']} | {STATUS_WORDS[result['status']]} "
            f"| {metric} | {value} | {threshold} | {p} |"
        )
    for name, result in report["features"].items():
        out += ["", f"### {_md(_name(name))}: {STATUS_WORDS[result['status']]}", ""]
        out += [f"- {_md(reason)}" for reason in result.get("reasons", [])]
        rows = _stat_rows(result)
        if rows:
            out += ["", "| | reference | current |", "|---|---:|---:|"]
            out += [f"| {_md(a)} | {b} | {c} |" for a, b, c in rows]
        bars = _bars(result)
        if bars:
            top = max(max(r, c) for _, r, c in bars) or 1.0
            out += ["", "```", f"{'bin':<24} {'reference':<{BAR + 7}} current"]
            for label, ref, cur in bars:
                out.append(
                    f"{label[:24]:<24} {'█' * round(ref / top * BAR):<{BAR}} {ref:>5.1%}"
                    f"  {'█' * round(cur / top * BAR):<{BAR}} {cur:>5.1%}"
                )
            out.append("```")
    return "\n".join(out) + "\n"


# --- HTML -------------------------------------------------------------------------------------

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px}
th{background:#f3f3f3}td.n{text-align:right}.drift{color:#b00020;font-weight:bold}
.ok{color:#1b5e20}.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}
section{border-top:1px solid #ddd;margin-top:1.5em}
"""
REFERENCE_COLOUR = "#5b8def"
CURRENT_COLOUR = "#f28e2b"


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg(bars: Sequence[tuple[str, float, float]]) -> str:
    """Side-by-side bars of both shares per bin, inline SVG with a title per bar."""
    width, height, pad = 640, 140, 4
    slot = (width - 2 * pad) / max(1, len(bars))
    top = max(max(r, c) for _, r, c in bars) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20}" '
        f'role="img" aria-label="histogram">'
    ]
    for index, (label, ref, cur) in enumerate(bars):
        x = pad + index * slot
        for offset, share, colour, who in (
            (0.1, ref, REFERENCE_COLOUR, "reference"),
            (0.5, cur, CURRENT_COLOUR, "current"),
        ):
            bar = share / top * height
            parts.append(
                f'<rect x="{x + offset * slot:.1f}" y="{height - bar:.1f}" '
                f'width="{slot * 0.4:.1f}" height="{bar:.1f}" fill="{colour}">'
                f"<title>{_h(label)}: {who} {share:.1%}</title></rect>"
            )
    parts.append(
        f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" stroke="#999"/>'
        f'<text x="{pad}" y="{height + 15}" font-size="11">{_h(bars[0][0])}</text>'
        f'<text x="{width - pad}" y="{height + 15}" font-size="11" text-anchor="end">'
        f"{_h(bars[-1][0])}</text></svg>"
    )
    return "".join(parts)


def _css_class(status: str) -> str:
    return "ok" if status in ("ok", "no-verdict") else "drift"


def render_html(report: Mapping[str, Any]) -> str:
    """The report as one HTML document with inline CSS and SVG (nothing fetched)."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Drift report: {_h(VERDICT_WORDS.get(report['verdict'], report['verdict']))}"
        "</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Drift report</h1>",
        "<ul>",
    ]
    out += [f"<li>{_h(line)}</li>" for line in _summary(report)]
    out.append("</ul>")
    schema = _schema_lines(report)
    if schema:
        out.append("<h2>Schema changes</h2><ul>")
        out += [
            f"<li>{_h(label)}: {_h(', '.join(_name(n) for n in names))}</li>"
            for label, names in schema
        ]
        out.append("</ul>")
    out += [
        "<h2>Features</h2><table><thead><tr><th>feature</th><th>kind</th><th>status</th>"
        "<th>deciding metric</th><th>value</th><th>threshold</th><th>p-value</th></tr></thead>"
        "<tbody>"
    ]
    for index, (name, result) in enumerate(report["features"].items()):
        metric, value, threshold, p = _decided(result)
        status = result["status"]
        out.append(
            f'<tr><td><a href="#feature-{index}">{_h(_name(name))}</a></td>'
            f'<td>{result["kind"]}</td><td class="{_css_class(status)}">'
            f'{_h(STATUS_WORDS[status])}</td><td>{_h(metric)}</td><td class="n">{value}</td>'
            f'<td class="n">{threshold}</td><td class="n">{p}</td></tr>'
        )
    out.append("</tbody></table>")
    out.append(
        f'<p class="legend">Histograms:<span style="background:{REFERENCE_COLOUR}"></span>'
        f'reference<span style="background:{CURRENT_COLOUR}"></span>current</p>'
    )
    for index, (name, result) in enumerate(report["features"].items()):
        status = result["status"]
        out.append(
            f'<section id="feature-{index}"><h3>{_h(_name(name))}: '
            f'<span class="{_css_class(status)}">{_h(STATUS_WORDS[status])}</span></h3>'
        )
        reasons = result.get("reasons", [])
        if reasons:
            out.append("<ul>" + "".join(f"<li>{_h(r)}</li>" for r in reasons) + "</ul>")
        rows = _stat_rows(result)
        if rows:
            out.append("<table><tr><th></th><th>reference</th><th>current</th></tr>")
            out += [
                f'<tr><td>{_h(a)}</td><td class="n">{_h(b)}</td><td class="n">{_h(c)}</td></tr>'
                for a, b, c in rows
            ]
            out.append("</table>")
        bars = _bars(result)
        if bars:
            out.append(_svg(bars))
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
