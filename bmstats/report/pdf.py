"""``bmstats report CONFIG -o DIR --pdf``: the whole report as one PDF, typeset by pdflatex.

The document is the article class at 10 pt with its default margins, the page every ``.tex`` table is laid
out for (:mod:`bmstats.report.latex`): title, each section with its tables (as in ``tables/<id>.tex``) and
figures (the PDF figures, at their own width or the text width), and the methods paragraph.  ``DIR/report.tex``
is written next to ``DIR/report.pdf`` for anyone who wants to edit it.  The PDF is byte-stable: pdfTeX gets a
fixed ``SOURCE_DATE_EPOCH`` and is told to leave out dates, the trailer ID and the file names of included
figures.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bmstats.report.table import latex_escape

# 2000-01-01, the date every other output of a report carries (DOCX properties, zip entries)
SOURCE_DATE_EPOCH = "946684800"
_ORDER = ("booktabs", "array", "makecell", "rotating", "longtable", "pdflscape", "threeparttable",
          "threeparttablex")
TEXT_WIDTH_IN = 345 / 72.27


class PdfError(RuntimeError):
    """pdflatex is missing or failed; the message says which and how to get it."""


def _packages(tables: list[str]) -> list[str]:
    used = set()
    for tex in tables:
        for line in tex.splitlines():
            if line.startswith("% Preamble: \\usepackage{"):
                used.update(line[len("% Preamble: \\usepackage{"):-1].split(","))
    unknown = sorted(used - set(_ORDER))
    return [p for p in _ORDER if p in used] + unknown


def latex_document(*, title: str, description: str, author: str, sections: list[dict], methods: str,
                   versions: str, data_files: list[tuple[str, str]], config_name: str) -> str:
    """The report as one LaTeX document; ``sections`` as the HTML template gets them, each table item with
    its ``tex`` and each figure item with ``pdf_name`` (figures/<stem>.pdf) and ``width_in``."""
    tables = [it["tex"] for s in sections for it in s["items"] if it["kind"] == "table"]
    out = ["\\documentclass{article}",
           "\\pdfinfoomitdate=1", "\\pdftrailerid{}", "\\pdfsuppressptexinfo=-1",
           f"\\usepackage{{{','.join(['graphicx', *_packages(tables)])}}}",
           f"\\title{{{latex_escape(title)}}}", f"\\author{{{latex_escape(author)}}}", "\\date{}",
           "\\begin{document}", "\\maketitle"]
    if description:
        out += ["\\begin{abstract}", latex_escape(description), "\\end{abstract}"]
    for number, s in enumerate(sections, start=1):
        out.append(f"\\section*{{{number}. {latex_escape(s['title'])}}}")
        if s["description"]:
            out.append(latex_escape(s["description"]) + "\n")
        for it in s["items"]:
            if it["kind"] == "table":
                out.append(it["tex"])
            else:
                width = min(float(it["width_in"]), TEXT_WIDTH_IN)
                out += ["\\begin{figure}[htbp]", "\\centering",
                        f"\\includegraphics[width={width:.2f}in]{{{it['pdf_name']}}}",
                        f"\\caption{{{latex_escape(it['caption'])}}}", "\\end{figure}"]
        for note in s["notes"]:
            out.append(f"{{\\small {latex_escape(note)}\\par}}")
        out.append("\\clearpage")
    out += ["\\section*{Methods and reproducibility}", latex_escape(methods) + "\n",
            f"Software: {latex_escape(versions)}.\n", "Data (SHA-256):\\par"]
    # a plain list: itemize's bullet would come from a bitmap font where cm-super is not installed
    out += [f"\\noindent\\hspace*{{1em}}\\texttt{{{latex_escape(name)}}}:\\\\\\hspace*{{1em}}"
            f"\\texttt{{\\footnotesize {digest}}}\\par" for name, digest in data_files]
    out += ["\\medskip", f"Rebuild with \\texttt{{bmstats report analyses/{latex_escape(config_name)} -o DIR "
            "--pdf}; the same inputs give byte-identical outputs.", "\\end{document}"]
    return "\n".join(out) + "\n"


def compile_pdf(tex: str, figures: dict[str, bytes], target: Path) -> None:
    """Typeset ``tex`` (with ``figures``: name -> PDF bytes) by pdflatex in a scratch folder; write
    ``target``.  Raises :class:`PdfError` naming the problem (pdflatex missing, or its first error)."""
    if shutil.which("pdflatex") is None:
        raise PdfError("--pdf needs pdflatex (Debian: apt-get install texlive-latex-base "
                       "texlive-latex-recommended texlive-latex-extra); report.html and the other files were written")
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "FORCE_SOURCE_DATE": "1"}
    with tempfile.TemporaryDirectory(prefix="bmstats-pdf-") as scratch:
        folder = Path(scratch)
        for name, data in figures.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        (folder / "report.tex").write_text(tex, encoding="utf-8")
        for _ in range(2):  # longtable widths and references settle on the second run
            proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
                                  cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not (folder / "report.pdf").exists():
            log = (folder / "report.log").read_text(encoding="latin-1") if (folder / "report.log").exists() else ""
            first = next((line for line in log.splitlines() if line.startswith("!")), proc.stdout[-300:])
            raise PdfError(f"pdflatex failed: {first.strip()}")
        shutil.copyfile(folder / "report.pdf", target)
