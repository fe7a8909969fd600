"""The typeface of the documents, and what it can print.

PDF's standard fonts cover Latin-1 only ("Zhōngguó" would already fail), so the documents
embed Noto Sans (SIL Open Font License) from the ``fontpkg-noto-sans`` wheel: Latin, Greek,
Cyrillic and Vietnamese, no system package.

The wheel ships a variable font. Given it as it is, fpdf2 subsets the variation tables on
every document (a quarter of a second, and twice the file size), and it would take about 3
seconds to make the bold face each time. :func:`face` therefore writes each static face
once, under ``settings.DOCUMENT_FONT_DIR``, for every process to reuse: the regular face is
the variable font's own outlines without the variation tables (0.1 s), the bold one an
instance at weight 700 (about 2.5 s, once per install and font version).

Chinese, Japanese and Korean need a font of 10 MB or more per script. Rather than ship one
with every install, characters the font lacks are printed as U+FFFD and the document says
so (:func:`printable`): the register page and the embedded signed credential give every
name in full.
"""

from __future__ import annotations

import functools
import logging
import os
from importlib.metadata import version
from pathlib import Path

import fontpkg_noto_sans
from django.conf import settings

LOGGER = logging.getLogger(__name__)

FAMILY = "NotoSans"
#: The variable font as the wheel ships it.
VARIABLE: Path = fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf"
#: The faces the documents use, by fpdf2 style: a name, and the variation axes to pin
#: (``None``: the variable font's default outlines, which are the regular face).
FACES: dict[str, tuple[str, dict[str, float] | None]] = {
    "": ("Regular", None),
    "B": ("Bold", {"wght": 700, "wdth": 100}),
}
#: Tables no static face needs: the variation tables, and the layout tables that fpdf2
#: drops from its subsets anyway (dropping them first also makes instancing quicker).
VARIATION_TABLES = ("fvar", "gvar", "avar", "cvar", "HVAR", "MVAR", "STAT")
LAYOUT_TABLES = ("GDEF", "GPOS", "GSUB")
#: What stands for a character the font cannot draw.
REPLACEMENT = "\ufffd"


@functools.cache
def face(style: str) -> Path:
    """The static font file of a face (``""`` regular, ``"B"`` bold), made on first use
    and kept; the variable font itself when the file cannot be written."""
    name, axes = FACES[style]
    target = Path(settings.DOCUMENT_FONT_DIR) / (
        f"NotoSans-{name}-{version('fontpkg-noto-sans')}-{VARIABLE.stat().st_size}.ttf"
    )
    if target.exists():
        return target
    from fontTools.ttLib import TTFont
    from fontTools.varLib import instancer

    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with TTFont(VARIABLE, recalcTimestamp=False) as font:
            for tag in LAYOUT_TABLES:
                if tag in font:
                    del font[tag]
            if axes is None:
                for tag in VARIATION_TABLES:
                    if tag in font:
                        del font[tag]
            else:
                instancer.instantiateVariableFont(font, axes, inplace=True, static=True)
            font.save(partial)
        os.replace(partial, target)  # atomic: a reader never sees half a font
    except OSError as error:
        LOGGER.warning("Cannot write %s (%s): documents use the variable font", target, error)
        partial.unlink(missing_ok=True)
        return VARIABLE
    return target


@functools.cache
def _codepoints() -> frozenset[int]:
    """The characters the font maps to a glyph (read once per process, about 15 ms)."""
    from fontTools.ttLib import TTFont

    with TTFont(VARIABLE, lazy=True) as font:
        return frozenset(font.getBestCmap())


def printable(text: str) -> tuple[str, bool]:
    """``text`` with every character the font lacks replaced by :data:`REPLACEMENT`, and
    whether any was. Line breaks and tabs become spaces: documents lay out their own lines."""
    known = _codepoints()
    out: list[str] = []
    replaced = False
    for char in text:
        if char in "\r\n\t":
            out.append(" ")
        elif ord(char) in known:
            out.append(char)
        else:
            out.append(REPLACEMENT)
            replaced = True
    return "".join(out), replaced
