"""Self-contained HTML: the page every built-in card is, and how a rendered component
(a string or a dict of a known ``type``) becomes HTML.

Everything taken from a task or a component is escaped; the page loads nothing (no
script, no stylesheet or font from elsewhere) and its Content-Security-Policy forbids
it to, so a card opened from a file or inside the UI cannot reach the network.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CSP", "component_html", "escape", "markdown_html", "page", "safe_image_src"]

#: No scripts, no requests: images only from data: URIs, styles only inline.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#1d2330;background:#fff}
main{max-width:1100px;margin:0 auto;padding:20px 28px}
h1{font-size:22px;margin:4px 0 14px}h2{font-size:17px;margin:22px 0 8px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #d5d9e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f7}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:8px;overflow:auto;
white-space:pre-wrap;word-break:break-word;font-size:12px}
.af-meta td:first-child{color:#5b6472}
.af-error{border-left:4px solid #d1242f;padding:4px 12px;background:#fff5f5}
.af-section{margin:14px 0}.af-label{color:#5b6472;font-size:12px}
figure{margin:10px 0}img{max-width:100%}
progress{width:320px;vertical-align:middle}
.af-steps span{display:inline-block;padding:2px 8px;margin:2px;border:1px solid #d5d9e0;
border-radius:10px}.af-steps .af-here{background:#1d2330;color:#fff}
"""


def escape(value: object) -> str:
    """``value`` as text, escaped for HTML (quotes too)."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str) -> str:
    """A whole HTML document around ``body`` (already HTML), titled ``title`` (text)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp|bmp|svg\+xml);base64,[A-Za-z0-9+/=\s]*$")


def safe_image_src(src: object) -> str | None:
    """``src`` if it is a base64 ``data:image/...`` URI (the only images a card embeds)."""
    if isinstance(src, str) and _DATA_IMAGE.match(src):
        return src
    return None


def markdown_html(source: str) -> str:
    """Markdown as HTML with raw HTML in it escaped; plain preformatted text when
    ``markdown-it-py`` (the ``cards`` extra) is not installed."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        return f"<pre>{escape(source)}</pre>"
    # "js-default": CommonMark with raw HTML off and unsafe link schemes refused.
    return str(MarkdownIt("js-default").enable("table").render(source))


def component_html(rendered: Any) -> str:
    """HTML for one rendered component: a dict of a known type, or anything else as text."""
    if isinstance(rendered, Mapping):
        kind = rendered.get("type")
        render = _BY_TYPE.get(kind) if isinstance(kind, str) else None
        if render is not None:
            return render(rendered)
        return f"<pre>{escape(json.dumps(rendered, indent=2, default=repr))}</pre>"
    return f'<div class="af-section">{escape(rendered)}</div>'


def _cell(value: Any) -> str:
    return component_html(value) if isinstance(value, Mapping) else escape(value)


def _table(c: Mapping[str, Any]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in c.get("headers") or [])
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
        for row in c.get("data") or []
        if isinstance(row, Iterable) and not isinstance(row, str | bytes)
    )
    title = f'<div class="af-label">{escape(c["title"])}</div>' if c.get("title") else ""
    return f"{title}<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _image(c: Mapping[str, Any]) -> str:
    src = safe_image_src(c.get("src"))
    label = f"<figcaption>{escape(c['label'])}</figcaption>" if c.get("label") else ""
    if src is None:
        return '<div class="af-error">image not shown: its source is not a data: image</div>'
    return f'<figure><img src="{escape(src)}" alt="{escape(c.get("label") or "")}">{label}</figure>'


def _artifacts(c: Mapping[str, Any]) -> str:
    items = [a for a in c.get("data") or [] if isinstance(a, Mapping)]
    if len(items) == 1 and not items[0].get("name"):  # one unnamed value: just the value
        return f"<pre>{escape(items[0].get('data', ''))}</pre>"
    rows = "".join(
        f"<tr><td>{escape(a.get('name') or '')}</td><td>{escape(a.get('type') or '')}</td>"
        f"<td><pre>{escape(a.get('data', ''))}</pre></td></tr>"
        for a in items
    )
    head = "<thead><tr><th>name</th><th>type</th><th>value</th></tr></thead>"
    return f"<table>{head}<tbody>{rows}</tbody></table>"


def _progress(c: Mapping[str, Any]) -> str:
    label = f"{escape(c['label'])} " if c.get("label") else ""
    unit = f" {escape(c['unit'])}" if c.get("unit") else ""
    details = f' <span class="af-label">{escape(c["details"])}</span>' if c.get("details") else ""
    value, top = c.get("value", 0), c.get("max", 100)
    return (
        f'<div class="af-section">{label}<progress max="{escape(top)}" value="{escape(value)}">'
        f"</progress> {escape(value)}/{escape(top)}{unit}{details}</div>"
    )


def _vega(c: Mapping[str, Any]) -> str:
    spec = json.dumps(c.get("spec"), indent=2, default=repr)
    return (
        '<details class="af-section"><summary>Vega-Lite chart (its specification; a card '
        "runs no scripts, open it in a Vega viewer to draw it)</summary>"
        f"<pre>{escape(spec)}</pre></details>"
    )


def _log(c: Mapping[str, Any]) -> str:
    return f"<pre>{escape(c.get('data', ''))}</pre>"


def _error(c: Mapping[str, Any]) -> str:
    return (
        f'<div class="af-error"><strong>{escape(c.get("headline", "Error"))}</strong>'
        f"<pre>{escape(c.get('data', ''))}</pre></div>"
    )


def _markdown(c: Mapping[str, Any]) -> str:
    return f'<div class="af-section">{markdown_html(str(c.get("source") or ""))}</div>'


def _section(c: Mapping[str, Any]) -> str:
    title = f"<h2>{escape(c['title'])}</h2>" if c.get("title") else ""
    inner = "".join(component_html(x) for x in c.get("contents") or [])
    return f'<section class="af-section">{title}{inner}</section>'


def _text(c: Mapping[str, Any]) -> str:
    return f"<div>{escape(c.get('text', ''))}</div>"


_BY_TYPE = {
    "markdown": _markdown,
    "table": _table,
    "image": _image,
    "artifacts": _artifacts,
    "progressBar": _progress,
    "vegaChart": _vega,
    "log": _log,
    "error": _error,
    "section": _section,
    "text": _text,
}
