"""Tables that fit the terminal (or 80 columns when piped) without cutting a number or a version id.

A table whose columns do not fit the width is printed as several tables, each with the columns that fit and
the key columns (the row labels) repeated in front: every figure stays whole and readable at 80 columns.
Headers wrap at spaces, label columns may wrap; numbers and ids never do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

GAP = 2  # the space between two columns (padding 1 + 1, no vertical rules)


@dataclass(frozen=True)
class Col:
    header: str
    justify: str = "right"  # "left" for text
    wrap: bool = False  # may wrap at spaces (labels, prose); ids and numbers never do
    style: str | None = None


def print_table(console: Console, cols: Sequence[Col], rows: Sequence[Sequence[str]], *, title: str | None = None,
                caption: str | None = None, key: int = 1, row_styles: Sequence[str | None] | None = None,
                markup: bool = False) -> None:
    """Print `rows` (cells as plain strings unless `markup`) under `cols`; `key` leading columns label the rows
    and are repeated in every part when the table has to be split to fit `console.width`."""
    widths = [_width(col, [row[i] for row in rows]) for i, col in enumerate(cols)]
    if _too_narrow(widths, key, console.width):
        _print_records(console, cols, rows, title=title, caption=caption, key=key, markup=markup)
        return
    parts = _split(widths, key, console.width)
    title_text = title if markup or not title else escape(title)
    natural = [max([cell_len(col.header), *(cell_len(row[i]) for row in rows)]) for i, col in enumerate(cols)]
    for n, part in enumerate(parts):
        fixed = _grow_wrapping(part, cols, widths, natural, console.width)
        table = Table(title=title_text if n == 0 else None, title_justify="left", box=box.SIMPLE_HEAD,
                      show_edge=False, pad_edge=False, padding=(0, 1), collapse_padding=True, header_style="bold")
        for i in part:
            col = cols[i]
            table.add_column(_wrap_header(col.header, fixed[i]), justify=col.justify, style=col.style,
                             width=fixed[i] if col.wrap else None, min_width=fixed[i], no_wrap=not col.wrap,
                             overflow="fold")
        for r, row in enumerate(rows):
            cells = [row[i] if markup else escape(row[i]) for i in part]
            table.add_row(*cells, style=row_styles[r] if row_styles else None)
        console.print(table)
    if caption:  # below the last part, wrapped at the terminal's width (a table's caption wraps at the table's)
        console.print(caption, markup=markup, highlight=False)


def _too_narrow(widths: list[int], key: int, width: int) -> bool:
    """Whether some column does not fit even alone beside the key columns."""
    used = sum(widths[:key]) + GAP * key
    return any(used + w > width for w in widths[key:])


def _print_records(console: Console, cols: Sequence[Col], rows: Sequence[Sequence[str]], *, title: str | None,
                   caption: str | None, key: int, markup: bool) -> None:
    """A terminal too narrow for any table: each row as its key, then one `header: value` line per column."""
    def text(cell: str) -> str:
        return cell if markup else escape(cell)

    if title:
        console.print(title, markup=False, highlight=False)
    for row in rows:
        console.print(" ".join(text(c) for c in row[:key]), style="bold", highlight=False)
        for col, cell in zip(cols[key:], row[key:], strict=True):
            console.print(f"  {escape(col.header)}: {text(cell)}", highlight=False)
    if caption:
        console.print(caption, markup=False, highlight=False)


def _width(col: Col, cells: list[str]) -> int:
    """The narrowest width that cuts nothing: a wrapping column needs its longest word, another its longest
    cell; a header needs its longest word (headers wrap at spaces)."""
    header = max(map(cell_len, col.header.split()), default=0)
    if col.wrap:
        words = [w for cell in cells for w in cell.split()]
        return max([header, *map(cell_len, words)])
    return max([header, *map(cell_len, cells)])


def _grow_wrapping(part: list[int], cols: Sequence[Col], widths: list[int], natural: list[int],
                   width: int) -> dict[int, int]:
    """Each column's width in this part: its narrowest, then the room left shared out to the wrapping columns
    up to their natural width (rich would otherwise size them itself and cut a figure to fit)."""
    fixed = {i: widths[i] for i in part}
    room = width - sum(fixed.values()) - GAP * (len(part) - 1)
    for i in part:
        if cols[i].wrap and room > 0:
            extra = min(room, natural[i] - fixed[i])
            fixed[i] += max(0, extra)
            room -= max(0, extra)
    return fixed


def _wrap_header(header: str, width: int) -> str:
    """The header's words on as few lines as fit `width` (a no-wrap column would cut it otherwise)."""
    lines: list[str] = []
    for word in header.split():
        if lines and cell_len(lines[-1]) + 1 + cell_len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


def _split(widths: list[int], key: int, width: int) -> list[list[int]]:
    """Column indices per part: as many columns as fit after the key columns, in order."""
    key_cols = list(range(min(key, len(widths))))
    used = sum(widths[i] for i in key_cols) + GAP * max(0, len(key_cols) - 1)
    parts: list[list[int]] = []
    current: list[int] = []
    room = width - used
    for i in range(len(key_cols), len(widths)):
        need = widths[i] + GAP
        if current and need > room:
            parts.append(key_cols + current)
            current, room = [], width - used
        current.append(i)
        room -= need
    parts.append(key_cols + current)
    return parts
