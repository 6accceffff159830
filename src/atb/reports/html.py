"""The page machinery: the jinja2 environment over templates/, one copy of plotly.js per page, figures as
<div>s, the provenance block, and the atomic write of the file."""

from __future__ import annotations

import functools
import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from atb.evaluation.metric_table import TABLE_NOTES

PACKAGE_VERSIONS = ("torch", "onnxruntime", "numpy", "pandas", "plotly")
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
SYNTHETIC_NOTE = "SYNTHETIC market (seeded AR-GARCH process): these numbers say nothing about real prices."


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("atb.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,  # a missing key is a bug of the report module, never a blank cell
        trim_blocks=True, lstrip_blocks=True,
    )


@functools.cache
def plotly_js() -> str:
    """plotly.js, minified, as plotly's own offline files embed it."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def figure_html(fig: Any, height: int | None = None) -> Markup:
    """One figure as a <div> and the script that draws it (the library itself is on the page once)."""
    if height is not None:
        fig.update_layout(height=height)
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False, config=PLOT_CONFIG,
                              default_width="100%"))


def table(headers: list[str] | tuple[str, ...], rows: list[list[str]], left: tuple[str, ...] = ("model",),
          dim: list[bool] | None = None) -> dict:
    """A table for the `table` macro: headers, rows of already formatted cells (from the metric table), which
    columns hold text (left-aligned) and which rows are shown dimmed (the naive reference)."""
    return {"headers": list(headers), "rows": [list(map(str, r)) for r in rows],
            "left": [h in left for h in headers], "dim": dim or [False] * len(rows)}


def versions() -> dict[str, str]:
    """atb, Python and the libraries' versions, read from the installed distributions (nothing is imported)."""
    from atb import __version__

    out = {"atb": __version__, "python": platform.python_version()}
    for name in PACKAGE_VERSIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(**facts: Any) -> list[tuple[str, str]]:
    """The run's provenance as (label, value) rows: the facts given (data source and range, ...), then the git
    revision, the host, the versions and the time the report was made."""
    from atb.tracking.provenance import git_commit, host

    rows = [(k.replace("_", " "), str(v)) for k, v in facts.items() if v is not None and v != ""]
    rows.append(("git revision", git_commit() or "n/a (not run from a git checkout of atb)"))
    rows.append(("host", host()))
    rows += [(f"{name} version", v) for name, v in versions().items()]
    rows.append(("command", " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "n/a"))
    rows.append(("report created", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")))
    return rows


def render_page(template: str, path: Path, *, title: str, synthetic: bool = False, **context: Any) -> Path:
    """Render templates/<template> (which extends base.html.j2) to ``path``, atomically; returns the path."""
    page = environment().get_template(template).render(
        title=title, synthetic=synthetic, synthetic_note=SYNTHETIC_NOTE, plotly_js=Markup(plotly_js()),
        table_notes=TABLE_NOTES, **context)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path
