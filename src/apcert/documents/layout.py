"""What the documents share: the typeface's sizes and colours, and a writer of headings,
paragraphs, label and value pairs and tables that flow from page to page.

Each document has its own page (frame, running lines, footer); this module only writes
onto it, in millimetres on an A4 page set up by the document.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from apcert.documents import fonts

#: The body text's size, in points.
BODY_PT = 10.0
#: Colours: a dark blue for headings and the frame, greys for labels and rules.
INK = (20, 20, 20)
ACCENT = (23, 55, 94)
MUTED = (95, 95, 95)
RULE = (185, 190, 200)
STRIPE = (241, 244, 248)
#: Space needed below a section heading before the section may start on this page.
KEEP_WITH_HEADING = 22.0
#: Tables: font size (points), line height and cell padding (millimetres).
TABLE_FONT_PT = 8.5
TABLE_LINE = 4.1
CELL_PAD_X = 1.6
CELL_PAD_Y = 1.3


class Writer:
    """Writes a document's content onto the pages of ``pdf``, noting any text whose
    characters the font could not print (:attr:`replaced`)."""

    def __init__(self, pdf: FPDF) -> None:
        self.pdf = pdf
        self.replaced = False
        self._widths: dict[tuple[str, float, str], float] = {}

    @contextlib.contextmanager
    def style(
        self, *, size: float = BODY_PT, color: tuple[int, int, int] = INK, bold: bool = False
    ) -> Iterator[None]:
        """Text size, colour and weight for the body of the ``with``, back to the body text
        after. Plain setters rather than fpdf2's local_context, whose "restore" must not
        span a page break, while text here may flow onto the next page."""
        pdf = self.pdf
        pdf.set_font(fonts.FAMILY, "B" if bold else "", size)
        pdf.set_text_color(*color)
        try:
            yield
        finally:
            pdf.set_font(fonts.FAMILY, "", BODY_PT)
            pdf.set_text_color(*INK)

    def text(self, value: Any) -> str:
        printed, replaced = fonts.printable(str(value))
        self.replaced = self.replaced or replaced
        return printed

    def heading(self, title: str) -> None:
        pdf = self.pdf
        pdf.ln(4)
        if pdf.will_page_break(KEEP_WITH_HEADING):
            pdf.add_page()
        with self.style(size=11.5, color=ACCENT, bold=True):
            pdf.cell(text=title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        with pdf.local_context(draw_color=RULE):
            pdf.set_line_width(0.3)
            pdf.line(pdf.l_margin, pdf.get_y() + 0.5, pdf.l_margin + pdf.epw, pdf.get_y() + 0.5)
        pdf.ln(2.5)

    def paragraph(
        self,
        value: str,
        *,
        size: float = BODY_PT,
        color: tuple[int, int, int] = INK,
        align: Align = Align.L,
    ) -> None:
        with self.style(size=size, color=color):
            self.pdf.multi_cell(0, size * 0.5, self.text(value), align=align, new_x=XPos.LMARGIN)

    def facts(
        self, rows: Iterable[tuple[str, str]], *, width: float = 0, label_width: float = 44
    ) -> None:
        """Label and value pairs, the value wrapping in its own column."""
        pdf = self.pdf
        width = width or pdf.epw
        for label, value in rows:
            y = pdf.get_y()
            if pdf.will_page_break(6):
                pdf.add_page()
                y = pdf.get_y()
            with self.style(size=9, color=MUTED):
                pdf.set_xy(pdf.l_margin, y + 0.4)
                pdf.cell(label_width, 5, label)
            pdf.set_xy(pdf.l_margin + label_width, y)
            pdf.multi_cell(
                width - label_width, 5, self.text(value), align=Align.L, new_x=XPos.LMARGIN
            )
            pdf.ln(0.4)

    def width(self, text: str) -> float:
        """The width of ``text`` in the current font and size, each string measured once."""
        key = (self.pdf.font_style, self.pdf.font_size_pt, text)
        if key not in self._widths:
            self._widths[key] = self.pdf.get_string_width(text)
        return self._widths[key]

    def wrap(self, text: str, width: float) -> list[str]:
        """``text`` broken into lines no wider than ``width``: greedy, at spaces, and inside
        a word only when the word alone is wider. Each word is measured once; fpdf2's
        multi_cell measures a line again at every character, which made a 60-line scope
        take a second."""
        lines: list[str] = []
        line, line_width = "", 0.0
        space = self.width(" ")
        for word in text.split():
            word_width = self.width(word)
            if word_width > width:
                pieces = self._break_word(word, width)
                if line:
                    lines.append(line)
                lines.extend(pieces[:-1])
                line, line_width = pieces[-1], self.width(pieces[-1])
            elif not line:
                line, line_width = word, word_width
            elif line_width + space + word_width <= width:
                line, line_width = f"{line} {word}", line_width + space + word_width
            else:
                lines.append(line)
                line, line_width = word, word_width
        lines.append(line)
        return lines

    def _break_word(self, word: str, width: float) -> list[str]:
        pieces: list[str] = []
        piece, piece_width = "", 0.0
        for char in word:
            char_width = self.width(char)
            if piece and piece_width + char_width > width:
                pieces.append(piece)
                piece, piece_width = "", 0.0
            piece, piece_width = piece + char, piece_width + char_width
        pieces.append(piece)
        return pieces

    def table(
        self, headings: tuple[str, ...], widths: tuple[float, ...], rows: Iterable[Iterable[Any]]
    ) -> None:
        """A table whose rows flow onto further pages, the headings repeated on each. A row
        moves whole to the next page when it does not fit; one taller than a page is split
        between its lines."""
        pdf = self.pdf
        scale = pdf.epw / sum(widths)
        widths = tuple(w * scale for w in widths)
        # set_font_size, not local_context: a context must not span a page break (its
        # "restore" would land on the next page, with nothing saved there to restore).
        size = pdf.font_size_pt
        pdf.set_font_size(TABLE_FONT_PT)
        self._table_heading(headings, widths)
        for values in rows:
            cells = [
                self.wrap(self.text(value), width - 2 * CELL_PAD_X)
                for value, width in zip(values, widths, strict=True)
            ]
            self._table_row(headings, widths, cells)
        pdf.set_font_size(size)

    def _table_heading(self, headings: tuple[str, ...], widths: tuple[float, ...]) -> None:
        pdf = self.pdf
        y = pdf.get_y()
        height = TABLE_LINE + 2 * CELL_PAD_Y
        with pdf.local_context(fill_color=STRIPE):
            pdf.rect(pdf.l_margin, y, pdf.epw, height, style="F")
        pdf.set_text_color(*ACCENT)
        pdf.set_font(fonts.FAMILY, "B", TABLE_FONT_PT)
        self._cell_lines([[h] for h in headings], widths, y, 0, 1)
        pdf.set_font(fonts.FAMILY, "", TABLE_FONT_PT)
        pdf.set_text_color(*INK)
        pdf.set_y(y + height)

    def _table_row(
        self, headings: tuple[str, ...], widths: tuple[float, ...], cells: list[list[str]]
    ) -> None:
        pdf = self.pdf
        total = max(len(lines) for lines in cells)
        done = 0
        while done < total:
            room = int((pdf.page_break_trigger - pdf.get_y() - 2 * CELL_PAD_Y) // TABLE_LINE)
            if room < min(total - done, 3):
                pdf.add_page()
                self._table_heading(headings, widths)
                continue
            count = min(room, total - done)
            y = pdf.get_y()
            self._cell_lines(cells, widths, y, done, count)
            bottom = y + count * TABLE_LINE + 2 * CELL_PAD_Y
            with pdf.local_context(draw_color=RULE):
                pdf.set_line_width(0.2)
                pdf.line(pdf.l_margin, bottom, pdf.l_margin + pdf.epw, bottom)
            pdf.set_y(bottom)
            done += count

    def _cell_lines(
        self, cells: list[list[str]], widths: tuple[float, ...], y: float, first: int, count: int
    ) -> None:
        """Lines ``first`` to ``first + count`` of each cell, side by side from ``y``."""
        pdf = self.pdf
        # The baseline of a line: the glyphs centred in the line, descenders included.
        baseline = (TABLE_LINE - pdf.font_size) / 2 + pdf.font_size * 0.8
        x = pdf.l_margin
        for lines, width in zip(cells, widths, strict=True):
            for i, line in enumerate(lines[first : first + count]):
                if line:
                    pdf.text(x + CELL_PAD_X, y + CELL_PAD_Y + i * TABLE_LINE + baseline, line)
            x += width
