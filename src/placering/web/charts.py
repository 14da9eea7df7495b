"""Charts drawn on the server as SVG (no script, no style attribute: the page's CSP holds), each
shown with its numbers as a table beside it. A horizontal bar chart reads at 390 px as well as
at 1280 px; two series (this year and the year before) are drawn as pairs of bars."""

from __future__ import annotations

from typing import Any, Sequence

from markupsafe import Markup, escape


def bar_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
              *, unit: str = "") -> Markup:
    from ..display import fmt_number

    n = len(labels)
    bars = len(series)
    label_w, width, bar_h, gap, top = 215, 540, 18, 10, 30
    plot_w = width - label_w - 70
    row_h = bars * bar_h + gap
    height = top + n * row_h + 10
    top_value = max([v for _, values in series for v in values if v is not None] + [1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-labelledby="{chart_id}-t {chart_id}-d" focusable="false">',
             f'<title id="{chart_id}-t">{escape(title)}</title>',
             f'<desc id="{chart_id}-d">Stapeldiagram; samma siffror finns i tabellen under.</desc>']
    # legend
    x = label_w
    for i, (name, _) in enumerate(series):
        cls = "chart-bar alt" if i else "chart-bar"
        parts.append(f'<rect class="{cls}" x="{x}" y="6" width="14" height="14"/>'
                     f'<text class="chart-text" x="{x + 20}" y="18">{escape(name)}</text>')
        x += 34 + 10 * len(name)
    for row, text in enumerate(labels):
        y0 = top + row * row_h
        short = text if len(text) <= 24 else text[:23] + "…"
        parts.append(f'<text class="chart-text" x="{label_w - 8}" y="{y0 + bars * bar_h / 2 + 4:.0f}" '
                     f'text-anchor="end">{escape(short)}</text>')
        for i, (_name, values) in enumerate(series):
            v = values[row] or 0
            w = max(1.0, plot_w * v / top_value) if v else 0
            cls = "chart-bar alt" if i else "chart-bar"
            y = y0 + i * bar_h
            parts.append(f'<rect class="{cls}" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}"/>'
                         f'<text class="chart-text" x="{label_w + w + 4:.1f}" y="{y + bar_h - 4}">'
                         f'{escape(fmt_number(v))}{escape(unit)}</text>')
    parts.append(f'<line class="chart-axis" x1="{label_w}" y1="{top - 4}" x2="{label_w}" y2="{height - 6}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def chart_block(chart_id: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
                **kw: Any) -> dict[str, Any]:
    return {"id": chart_id, "title": title, "svg": bar_chart(chart_id, title, labels, series, **kw)}
