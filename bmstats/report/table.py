"""``Table``: a formatted publication table rendering to HTML, Markdown, LaTeX (booktabs), DOCX and CSV.

A table is a frame of already-formatted strings (``body``) whose first column holds the row labels, with
optional spanning column groups (a two-level column index: consecutive equal top-level labels merge into
one spanning header), per-row indentation levels (a variable's levels sit one step in from its name), a
title, footnotes and ``data``: the tidy numbers the cells were formatted from, kept so that tests and
users can check every cell against the estimator it came from.

Every renderer is deterministic: the same table gives the same bytes (DOCX zip entries get a fixed
timestamp and fixed core properties).
"""
from __future__ import annotations

import csv
import datetime as _dt
import html
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

TABLE_FORMATS = ("html", "md", "tex", "docx", "csv")
_FIXED_DATE = _dt.datetime(2000, 1, 1, 0, 0, 0)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, repr=False)
class Table:
    """A formatted publication table that renders to HTML, Markdown, LaTeX, DOCX and CSV, byte for byte the same
    each time.

    Made by the table builders (:func:`bmstats.table_one`, :func:`bmstats.regression_table`, ...); ``data``
    keeps the tidy numbers each cell was formatted from.

    Parameters
    ----------
    body : pandas.DataFrame
        The cells as strings; the first column holds the row labels. Columns are flat or a two-level index
        ``(group, label)`` whose consecutive equal groups merge into one spanning header.
    title : str, default ""
        Caption.
    footnotes : tuple of str, default ()
        Notes below the table.
    indent : tuple of int, default ()
        Indentation level of each row (0 = flush left; default all 0).
    bold : tuple of bool, default ()
        Rows whose label is set in bold (default none).
    data : pandas.DataFrame, optional
        The tidy numbers behind the cells.
    name : str, default "table"
        File stem used when saved.

    References
    ----------
    .. [1] Fear S. Publication quality tables in LaTeX (the booktabs package documentation), 2020.
    """

    body: pd.DataFrame
    title: str = ""
    footnotes: tuple[str, ...] = ()
    indent: tuple[int, ...] = ()
    bold: tuple[bool, ...] = ()
    data: pd.DataFrame | None = field(default=None)
    name: str = "table"

    def __post_init__(self) -> None:
        n = len(self.body)
        body = self.body.reset_index(drop=True).astype(object).where(self.body.notna().to_numpy(), "")
        body = body.map(str)
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "indent", tuple(int(i) for i in self.indent) or (0,) * n)
        object.__setattr__(self, "bold", tuple(bool(b) for b in self.bold) or (False,) * n)
        object.__setattr__(self, "footnotes", tuple(self.footnotes))
        if len(self.indent) != n or len(self.bold) != n:
            raise ValueError(f"indent and bold need one entry per row ({n})")

    # ----------------------------------------------------------------------------------- structure
    @property
    def labels(self) -> list[str]:
        """Displayed column labels (the bottom header row)."""
        cols = self.body.columns
        return [str(c[-1]) if isinstance(cols, pd.MultiIndex) else str(c) for c in cols]

    @property
    def groups(self) -> list[tuple[str, int]]:
        """Spanning headers as (label, span) over consecutive columns; empty if the columns are flat."""
        cols = self.body.columns
        if not isinstance(cols, pd.MultiIndex):
            return []
        spans: list[tuple[str, int]] = []
        for top in cols.get_level_values(0):
            top = str(top)
            if spans and spans[-1][0] == top and top != "":
                spans[-1] = (top, spans[-1][1] + 1)
            else:
                spans.append((top, 1))
        return spans

    def cell(self, row_label: str, column: str | tuple, occurrence: int = 0) -> str:
        """The cell in the row whose label is ``row_label`` (stripped) and the given column.

        Parameters
        ----------
        row_label : str
            The row's label, without its indentation.
        column : str or tuple
            The column label (a ``(group, label)`` pair for a two-level header).
        occurrence : int, default 0
            Which of several rows with the same label.

        Returns
        -------
        str
            The formatted cell.
        """
        labels = self.body.iloc[:, 0].str.strip()
        rows = labels.index[labels == row_label]
        return str(self.body.loc[rows[occurrence], column])

    def rows(self) -> list[list[str]]:
        """The body as a list of rows of strings.

        Returns
        -------
        list of list of str
            One list per row, the label first.
        """
        return self.body.values.tolist()

    # ---------------------------------------------------------------------------------- renderers
    def to_html(self, table_id: str | None = None) -> str:
        """A standalone ``<table>`` with caption, spanning headers, indented levels and footnotes.

        Parameters
        ----------
        table_id : str, optional
            The ``id`` attribute of the table.

        Returns
        -------
        str
            The HTML.
        """
        ident = f' id="{html.escape(table_id)}"' if table_id else ""
        out = [f'<table class="bm-table"{ident}>']
        if self.title:
            out.append(f"<caption>{html.escape(self.title)}</caption>")
        out.append("<thead>")
        if self.groups:
            cells = "".join(
                f'<th colspan="{span}" class="bm-group">{html.escape(g)}</th>' if span > 1 or g else "<th></th>"
                for g, span in self.groups
            )
            out.append(f"<tr>{cells}</tr>")
        head = "".join(
            f'<th class="{"bm-label" if j == 0 else "bm-value"}">{html.escape(lab)}</th>'
            for j, lab in enumerate(self.labels)
        )
        out.append(f"<tr>{head}</tr></thead><tbody>")
        for i, row in enumerate(self.rows()):
            style = f' style="padding-left:{0.3 + 1.2 * self.indent[i]:.1f}em"' if self.indent[i] else ""
            label = html.escape(row[0])
            if self.bold[i]:
                label = f"<strong>{label}</strong>"
            cells = "".join(f'<td class="bm-value">{html_cell(v)}</td>' for v in row[1:])
            out.append(f'<tr><td class="bm-label"{style}>{label}</td>{cells}</tr>')
        out.append("</tbody>")
        if self.footnotes:
            notes = "<br>".join(html.escape(f) for f in self.footnotes)
            out.append(f'<tfoot><tr><td colspan="{len(self.labels)}" class="bm-note">{notes}</td></tr></tfoot>')
        out.append("</table>")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return self.to_markdown()

    def _flat_labels(self) -> list[str]:
        """Column labels with their group prefixed (``Fine-Gray: HR (95% CI)``), for flat formats."""
        cols = self.body.columns
        if not isinstance(cols, pd.MultiIndex):
            return self.labels
        return [f"{g}: {lab}" if g else str(lab) for g, lab in zip(cols.get_level_values(0), self.labels)]

    def to_markdown(self) -> str:
        """A pipe table; levels indented with non-breaking spaces; title above and notes below.

        Returns
        -------
        str
            The Markdown.
        """
        def esc(text: str) -> str:
            return text.replace("|", "\\|")

        lines = []
        if self.title:
            lines += [f"**{esc(self.title)}**", ""]
        lines.append("| " + " | ".join(esc(c) for c in self._flat_labels()) + " |")
        lines.append("|" + "|".join([":---"] + ["---:"] * (len(self.labels) - 1)) + "|")
        for i, row in enumerate(self.rows()):
            label = "\u00a0" * (4 * self.indent[i]) + esc(row[0])
            if self.bold[i] and row[0]:
                label = f"**{label}**"
            lines.append("| " + " | ".join([label] + [esc(v) for v in row[1:]]) + " |")
        if self.footnotes:
            lines.append("")
            lines += [f"{esc(f)}  " for f in self.footnotes]
        return "\n".join(lines) + "\n"

    def to_latex(self, label: str | None = None, landscape: bool | None = None) -> str:
        """LaTeX source that fits an A4 or US-letter page.

        Booktabs rules, notes inside the table, wrapped headers, landscape and a smaller size when measured too
        wide, longtable when too tall; the packages it needs are listed in a comment at its top.

        Parameters
        ----------
        label : str, optional
            The LaTeX label (``\\label``) of the table.
        landscape : bool, optional
            Turn the page to landscape; None decides from the table's measured width.

        Returns
        -------
        str
            The LaTeX source.
        """
        from bmstats.report import latex

        return latex.table_latex(self, label=label, landscape=landscape)

    def to_csv(self, path: str | Path | None = None) -> str:
        """The body as CSV (group-prefixed headers, levels indented with two spaces).

        Parameters
        ----------
        path : str or Path, optional
            Also write the text to this file.

        Returns
        -------
        str
            The CSV text.
        """
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self._flat_labels())
        for i, row in enumerate(self.rows()):
            writer.writerow(["  " * self.indent[i] + row[0]] + row[1:])
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8", newline="")
        return text

    def to_docx_bytes(self, landscape: bool | None = None) -> bytes:
        """A Word document holding the table, with booktabs-like rules and fixed metadata (byte-stable).

        Parameters
        ----------
        landscape : bool, optional
            Turn the page to landscape; None decides from the table's measured width.

        Returns
        -------
        bytes
            The .docx file's content.
        """
        from bmstats.report import docx_writer

        return docx_writer.table_docx(self, landscape=landscape)

    def to_docx(self, path: str | Path, landscape: bool | None = None) -> None:
        """Write the table as a Word document (see :meth:`to_docx_bytes`).

        Parameters
        ----------
        path : str or Path
            The file written.
        landscape : bool, optional
            Turn the page to landscape; None decides from the table's measured width.
        """
        Path(path).write_bytes(self.to_docx_bytes(landscape=landscape))

    def save(self, path_stem: str | Path, formats: tuple[str, ...] = TABLE_FORMATS) -> list[Path]:
        """Write ``path_stem.<ext>`` for each format.

        Parameters
        ----------
        path_stem : str or Path
            Path without the extension; its folder is created if needed.
        formats : tuple of str, default ("html", "md", "tex", "docx", "csv")
            The formats written.

        Returns
        -------
        list of Path
            The files written.
        """
        stem = Path(path_stem)
        stem.parent.mkdir(parents=True, exist_ok=True)
        written = []
        for fmt in formats:
            path = stem.with_name(f"{stem.name}.{fmt}")
            if fmt == "html":
                path.write_text(self.to_html() + "\n", encoding="utf-8")
            elif fmt == "md":
                path.write_text(self.to_markdown(), encoding="utf-8")
            elif fmt == "tex":
                path.write_text(self.to_latex(label=f"tab:{stem.name}"), encoding="utf-8")
            elif fmt == "docx":
                self.to_docx(path)
            elif fmt == "csv":
                self.to_csv(path)
            else:
                raise ValueError(f"unknown table format {fmt!r}; choose from {', '.join(TABLE_FORMATS)}")
            written.append(path)
        return written


_LATEX_SPECIALS = {
    "\\": "\\textbackslash{}",
    "&": "\\&",
    "%": "\\%",
    "$": "\\$",
    "#": "\\#",
    "_": "\\_",
    "{": "\\{",
    "}": "\\}",
    "~": "\\textasciitilde{}",
    "[": "{[}",  # never read as the optional argument of a preceding \\\\
    "]": "{]}",
    "^": "\\textasciicircum{}",
    "<": "$<$",
    ">": "$>$",
    "\u2013": "--",
    "\u2014": "---",
    "\u00a0": "~",
    "\u221e": "$\\infty$",
    "\u2264": "$\\leq$",
    "\u2265": "$\\geq$",
    "\u00b1": "$\\pm$",
    "\u03c7": "$\\chi$",
    "\u00b2": "$^2$",
}


def html_cell(text: str) -> str:
    """A cell as HTML that a narrow page may break only between an estimate and its interval
    ("3,704 (74.1)", "19.0 [12.0, 29.0]"); other spaces (as in "< 0.001") are non-breaking."""
    text = str(text)
    cut = next((text.index(m) for m in (" (", " [") if m in text and not text.startswith(("(", "["))), -1)
    if cut < 0:
        return html.escape(text).replace(" ", "&nbsp;") if len(text.split()) <= 3 else html.escape(text)
    return html.escape(text[:cut]).replace(" ", "&nbsp;") + " " + html.escape(text[cut + 1:]).replace(" ", "&nbsp;")


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))


def deterministic_zip(data: bytes) -> bytes:
    """Rewrite a zip archive (DOCX) with fixed entry timestamps and attributes, keeping entry order."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            fixed.create_system = 3
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()
