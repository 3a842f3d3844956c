"""PDF conversion for the sandbox's ``content?format=pdf``: Word text out, a real PDF in.

The sandbox does not lay documents out like Word; it renders the document's text (paragraphs
and table rows, in document order) under a title, so a client can check that the PDF it got
is the document it asked for. fpdf2's core fonts only cover Latin-1: common Unicode
punctuation is mapped to ASCII and anything else outside Latin-1 becomes ``?``.
"""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from fpdf import FPDF
from fpdf.enums import XPos, YPos

__all__ = ["PdfConversionError", "docx_text", "latin1_text", "text_to_pdf"]

# Unicode punctuation Word likes, with the ASCII a reader expects in its place.
_ASCII_FOR = {
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark / apostrophe
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "\u201e": '"',
    "\u2033": '"',
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "--",  # em dash
    "\u2015": "--",
    "\u2212": "-",  # minus sign
    "\u2026": "...",  # ellipsis
    "\u2022": "*",  # bullet
    "\u2023": "*",
    "\u25cf": "*",
    "\u25aa": "*",
    "\u2610": "[ ]",  # ballot box
    "\u2611": "[x]",  # ballot box with check
    "\u2612": "[x]",  # ballot box with x
    "\u2713": "x",
    "\u2714": "x",
    "\u00a0": " ",  # no-break space
    "\u2002": " ",
    "\u2003": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u200b": "",  # zero-width space
    "\u200c": "",
    "\u200d": "",
    "\ufeff": "",
    "\u00ad": "",  # soft hyphen
    "\t": "    ",
}


class PdfConversionError(ValueError):
    """The source document could not be read for conversion."""


def latin1_text(text: str) -> str:
    """``text`` with Unicode punctuation mapped to ASCII and other non-Latin-1 as ``?``."""
    out: list[str] = []
    for char in text:
        mapped = _ASCII_FOR.get(char)
        if mapped is not None:
            out.append(mapped)
        elif char in "\r\n":
            out.append("\n")
        elif ord(char) < 32 or 127 <= ord(char) < 160:
            continue  # control characters have no glyph
        elif ord(char) < 256:
            out.append(char)
        else:
            out.append("?")
    return "".join(out)


def _cell_texts(row: Any) -> list[str]:
    texts: list[str] = []
    previous: object = None
    for cell in row.cells:
        # A merged cell appears once per grid column it spans; keep it once.
        if cell._tc is previous:
            continue
        previous = cell._tc
        text = "\n".join(p.text for p in cell.paragraphs).strip()
        texts.append(text)
    return texts


def docx_text(content: bytes) -> list[str]:
    """The paragraphs of a .docx in document order; a table row is one "a | b | c" line.

    Raises:
        PdfConversionError: the bytes are not a Word document python-docx can open.
    """
    try:
        document = Document(io.BytesIO(content))
        paragraphs: list[str] = []
        for block in document.iter_inner_content():
            if hasattr(block, "rows"):
                for row in block.rows:
                    cells = [text for text in _cell_texts(row) if text]
                    if cells:
                        paragraphs.append(" | ".join(cells))
            else:
                paragraphs.append(str(block.text))
    except Exception as exc:  # python-docx raises many types for a broken package
        raise PdfConversionError(f"not a readable Word document ({type(exc).__name__})") from exc
    return paragraphs


def text_to_pdf(title: str, paragraphs: list[str]) -> bytes:
    """A one-column A4 PDF: ``title`` in bold, then each paragraph, wrapped to the page."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(latin1_text(title))
    pdf.set_creator("Section 55 sandbox")
    pdf.add_page()
    width = pdf.epw
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.multi_cell(
        width, 7, latin1_text(title) or " ", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.ln(3)
    pdf.set_font("Helvetica", size=11)
    for paragraph in paragraphs:
        text = latin1_text(paragraph).strip("\n")
        if not text.strip():
            pdf.ln(3)
            continue
        pdf.multi_cell(width, 5.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)
    return bytes(pdf.output())
