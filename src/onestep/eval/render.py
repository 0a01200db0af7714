"""The report's rendering pieces, shared by every report module: tables as Markdown and HTML, PNG
figures, data URIs and the stylesheet. A leaf: it imports no other report module."""

from __future__ import annotations

import base64
import html
import io
import math
import re
from dataclasses import dataclass


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str] | str]  # a str row is a section heading spanning the table


def fmt(value) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def with_interval(metrics: dict, key: str) -> str:
    lo_hi = metrics.get("intervals", {}).get(key)
    return fmt(metrics.get(key)) + (f" [{fmt(lo_hi[0])}, {fmt(lo_hi[1])}]" if lo_hi and key in metrics else "")


def png_of(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def md_table(t: Table) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    rows = [[f"*{row}*"] + [""] * (len(t.header) - 1) if isinstance(row, str) else row for row in t.rows]
    return (
        "\n".join(
            [f"**{t.caption}**", "", line(t.header), "|---" + "|---:" * (len(t.header) - 1) + "|", *map(line, rows)]
        )
        + "\n"
    )


def html_table(t: Table) -> str:
    def cell(s: str) -> str:  # "v [lo, hi]" -> the interval on its own line, smaller
        m = re.fullmatch(r"(\S+) (\[.+\])", s)
        return f'{html.escape(m[1])}<span class="ci">{html.escape(m[2])}</span>' if m else html.escape(s)

    head = "".join(f"<th>{html.escape(h)}</th>" for h in t.header)
    body = [
        f'<tr class="section"><td colspan="{len(t.header)}">{html.escape(row)}</td></tr>'
        if isinstance(row, str)
        else "<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>"
        for row in t.rows
    ]
    caption = f"<caption>{html.escape(t.caption)}</caption>"
    rows = "".join(body)
    return f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def inline_code(text: str) -> str:
    """HTML of a line whose `spans` are code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def data_uri(kind: str, data: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


CSS = """
body{margin:0;background:#fff;color:#1f2328;
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}h1{font-size:26px;margin:0 0 4px}
h3{font-size:16px;margin:20px 0 4px}
h2{font-size:19px;margin:32px 0 8px;padding-bottom:4px;border-bottom:1px solid #d8dee4}.runs code{font-size:12px}
.note,.runs,figcaption{color:#59636e;font-size:13px;margin:4px 0}
.summary{font-size:15px;line-height:1.5;max-width:900px;margin:8px 0 16px;padding:10px 14px;background:#f6f8fa;
border-left:3px solid #0969da}
.scroll{overflow-x:auto}figure{margin:0}figure img{max-width:100%}
table{border-collapse:collapse;margin:6px 0 18px;font-size:13px}
caption{text-align:left;font-weight:600;padding:4px 0;color:#343a40;white-space:nowrap}
th,td{padding:5px 10px;border-bottom:1px solid #e5e8eb;text-align:right;vertical-align:top;
font-variant-numeric:tabular-nums}
th{background:#f6f8fa;font-weight:600;font-size:12px;line-height:1.3;vertical-align:bottom;max-width:120px}
td:first-child,th:first-child{text-align:left;white-space:nowrap;font-weight:600}tbody tr:hover{background:#f6f8fa}
.ci{display:block;color:#6e7781;font-size:11px;white-space:nowrap}
.plots{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
tr.section td{background:#eef1f4;color:#59636e;font-style:italic;font-weight:400;text-align:left}
table.grid{table-layout:fixed}table.grid th{background:none;text-align:center;max-width:none;white-space:normal}
table.grid th:first-child{width:44px}
table.grid td{border:none;padding:6px 4px 0;text-align:center}
table.grid td:first-child{color:#59636e;vertical-align:middle}
table.grid img,.missing{display:block;width:128px;height:128px;image-rendering:pixelated;border-radius:3px;
background:#000}
.missing{display:flex;align-items:center;justify-content:center;background:#f6f8fa;color:#8c959f}
table.grid tr.prompt td{padding:2px 4px 10px;border-bottom:1px solid #e5e8eb;color:#59636e;font-size:12px;
font-weight:400;text-align:left}
"""


def page(title: str, body: list[str]) -> str:
    """A self-contained HTML page: the stylesheet inline, `body`'s parts one per line in <main>."""
    head = '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
    head += f"<title>{html.escape(title)}</title><style>{CSS}</style>"
    return (
        f'<!doctype html>\n<html lang="en"><head>{head}</head><body><main>\n'
        + "\n".join(body)
        + "\n</main></body></html>\n"
    )


def figure(png_bytes: bytes, caption: str) -> str:
    """An inline PNG with its caption (also its alt text)."""
    c = html.escape(caption)
    return f'<figure><img src="{data_uri("image/png", png_bytes)}" alt="{c}"><figcaption>{c}</figcaption></figure>'
