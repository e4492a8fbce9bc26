"""A Word .docx referral form read with zipfile and lxml: paragraphs, tables, controls, boxes."""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from parsers.blocks import Block, TableBlock, TextBlock
from parsers.errors import ParseError
from parsers.xmlsafe import parse_xml

MAX_DOCX_BYTES = 25 * 1024 * 1024
#: Largest document.xml once inflated; a long form is well under a megabyte.
MAX_PART_BYTES = 16 * 1024 * 1024
MAX_MEMBERS = 2_000
# Word's XML deflates about 5-15x; a zip bomb deflates thousands of times.
MAX_RATIO = 200
MAX_BLOCKS = 50_000

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
_W = "{" + W + "}"
_W14 = "{" + W14 + "}"
CHECKED, UNCHECKED = "[x]", "[ ]"
_GLYPHS = {"☒": CHECKED, "☑": CHECKED, "✓": CHECKED, "✔": CHECKED, "☐": UNCHECKED}
_GLYPH_TABLE = str.maketrans(_GLYPHS)


@dataclass(frozen=True)
class ContentControl:
    """A content control (w:sdt): its tag and title as the form designer named them."""

    tag: str | None
    alias: str | None
    text: str
    checked: bool | None = None


@dataclass(frozen=True)
class Checkbox:
    """A tick box (legacy form field or content control) and the text beside it."""

    label: str
    checked: bool


@dataclass(frozen=True)
class DocxDocument:
    blocks: tuple[Block, ...]
    controls: tuple[ContentControl, ...]
    checkboxes: tuple[Checkbox, ...]

    @property
    def text(self) -> str:
        """The whole form as text: one line per paragraph, table cells tab-separated."""
        lines: list[str] = []
        for block in self.blocks:
            if isinstance(block, TextBlock):
                lines.append(block.text)
            else:
                lines.extend("\t".join(c.replace("\n", " ") for c in row) for row in block.rows)
        return "\n".join(lines)


def _truthy(el: Any, default: bool = True) -> bool:
    if el is None:
        return default
    val = el.get(_W + "val", el.get(_W14 + "val"))
    return default if val is None else val.lower() not in ("0", "false", "off")


def _legacy_box(fld_char: Any) -> bool | None:
    box = fld_char.find(f"{_W}ffData/{_W}checkBox")
    if box is None:
        return None
    checked = box.find(_W + "checked")
    if checked is not None:
        return _truthy(checked)
    return _truthy(box.find(_W + "default"), default=False)


class _Reader:
    def __init__(self) -> None:
        self.controls: list[ContentControl] = []
        self.checkboxes: list[Checkbox] = []

    def inline_text(self, el: Any, *, record: bool = True) -> str:
        """Text of a paragraph or cell in document order, tick boxes as [x] / [ ]."""
        out: list[str] = []
        stack = [el]
        while stack:
            node = stack.pop()
            tag = node.tag if isinstance(node.tag, str) else ""
            if tag == _W + "t":
                text = node.text or ""
                out.append(text.translate(_GLYPH_TABLE))
                continue
            if tag == _W + "tab":
                out.append("\t")
                continue
            if tag in (_W + "br", _W + "cr"):
                out.append("\n")
                continue
            if tag == _W + "p" and node is not el:
                out.append("\n")
            if tag == _W + "tc" and node is not el:
                out.append("\t")
            if tag == _W + "fldChar" and node.get(_W + "fldCharType") == "begin":
                checked = _legacy_box(node)
                if checked is not None:
                    out.append(CHECKED if checked else UNCHECKED)
                continue
            if tag == _W + "sdt":
                self.control(node, out)
                continue
            if tag in (_W + "delText", _W + "instrText", _W + "sdtPr"):
                continue
            stack.extend(reversed(node))
        text = "".join(out)
        if record:
            self._record_boxes(text)
        return text

    def _record_boxes(self, text: str) -> None:
        # The label of a tick box is the text after it, up to the next box or cell end.
        for line in text.split("\n"):
            pieces = line.replace(CHECKED, "\0x").replace(UNCHECKED, "\0o").split("\0")
            for piece in pieces[1:]:
                label = piece[1:].split("\t")[0].strip(" :")
                self.checkboxes.append(Checkbox(label, piece[0] == "x"))

    def control(self, sdt: Any, out: list[str]) -> None:
        """Record a content control and write its content (or its tick box) to `out`."""
        pr = sdt.find(_W + "sdtPr")
        tag = alias = None
        box = None
        if pr is not None:
            t = pr.find(_W + "tag")
            a = pr.find(_W + "alias")
            tag = t.get(_W + "val") if t is not None else None
            alias = a.get(_W + "val") if a is not None else None
            box = pr.find(_W14 + "checkbox")
        if box is not None:
            checked = _truthy(box.find(_W14 + "checked"), default=False)
            out.append(CHECKED if checked else UNCHECKED)
            self.controls.append(ContentControl(tag, alias, "", checked))
            return
        content = sdt.find(_W + "sdtContent")
        text = self.inline_text(content, record=False) if content is not None else ""
        if tag or alias:
            self.controls.append(ContentControl(tag, alias, text.strip()))
        out.append(text)

    def table(self, tbl: Any, n: int) -> TableBlock:
        rows: list[tuple[str, ...]] = []
        for tr in tbl.iter(_W + "tr"):
            if next(tr.iterancestors(_W + "tbl"), None) is not tbl:
                continue
            cells: list[str] = []
            for child in tr:
                if child.tag == _W + "tc":
                    cells.append(self.inline_text(child).strip())
                elif child.tag == _W + "sdt":
                    # A repeating-section control wraps whole cells.
                    cells.extend(self.inline_text(tc).strip() for tc in child.iter(_W + "tc"))
            if any(cells):
                rows.append(tuple(cells))
        return TableBlock(tuple(rows), f"table {n}")

    def body(self, body: Any) -> list[Block]:
        blocks: list[Block] = []
        tables = paragraphs = 0
        stack = list(reversed(body))
        while stack:
            node = stack.pop()
            if len(blocks) > MAX_BLOCKS:
                raise ParseError(f"the Word document has over {MAX_BLOCKS} paragraphs and tables")
            if node.tag == _W + "p":
                paragraphs += 1
                for line in self.inline_text(node).split("\n"):
                    if line.strip():
                        blocks.append(TextBlock(line.strip(), f"paragraph {paragraphs}"))
            elif node.tag == _W + "tbl":
                tables += 1
                blocks.append(self.table(node, tables))
            elif node.tag == _W + "sdt":
                content = node.find(_W + "sdtContent")
                if content is not None:
                    stack.extend(reversed(content))
            elif node.tag in (_W + "customXml", _W + "smartTag"):
                stack.extend(reversed(node))
        return blocks


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ParseError(
            f"the file is a zip but has no {name}: it is not a Word .docx document"
        ) from None
    if info.file_size > MAX_PART_BYTES:
        raise ParseError(
            f"the Word document's {name} inflates to {info.file_size} bytes, over the limit "
            f"of {MAX_PART_BYTES}; it may be a zip bomb"
        )
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
        raise ParseError(
            f"the Word document's {name} compresses {info.file_size // info.compress_size}"
            " to 1, which only a zip bomb does; it was not opened"
        )
    try:
        with zf.open(info) as fh:
            # The sizes in the zip directory can lie: read one byte past the cap to know.
            data = fh.read(MAX_PART_BYTES + 1)
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        ValueError,
        NotImplementedError,
    ) as exc:
        raise ParseError(
            f"the Word document is damaged ({exc}); ask for it to be re-sent"
        ) from None
    except RuntimeError:
        raise ParseError(
            "the Word document is password-protected; ask for an unprotected copy"
        ) from None
    if len(data) > MAX_PART_BYTES:
        raise ParseError(f"the Word document's {name} is over {MAX_PART_BYTES} bytes inflated")
    return data


def read_docx(data: bytes) -> DocxDocument:
    """A .docx (bytes) into blocks, content controls and tick boxes; ParseError if unreadable."""
    if len(data) > MAX_DOCX_BYTES:
        raise ParseError(
            f"the Word document is {len(data)} bytes, over the limit of {MAX_DOCX_BYTES}"
        )
    if not data.startswith(b"PK"):
        if data.startswith(b"\xd0\xcf\x11\xe0"):
            raise ParseError(
                "this is an old-style Word .doc (or an encrypted .docx); save it as .docx, resend"
            )
        raise ParseError("the file is not a Word .docx document (it is not a zip archive)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ParseError(
            f"the Word document is damaged ({exc}); ask for it to be re-sent"
        ) from None
    with zf:
        if len(zf.infolist()) > MAX_MEMBERS:
            raise ParseError(f"the .docx holds over {MAX_MEMBERS} parts; it is not a referral form")
        xml = _read_member(zf, "word/document.xml")
    root = parse_xml(xml, max_bytes=MAX_PART_BYTES, what="Word document")
    body = root.find(_W + "body")
    if root.tag != _W + "document" or body is None:
        raise ParseError("the .docx has no WordprocessingML body; it is not a Word document")
    reader = _Reader()
    blocks = reader.body(body)
    return DocxDocument(tuple(blocks), tuple(reader.controls), tuple(reader.checkboxes))
