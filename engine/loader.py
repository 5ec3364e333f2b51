"""Safe loading of uploaded BPMN XML: no network, no DTDs or entities, bounded size and depth."""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import re
from dataclasses import dataclass

from lxml import etree

from engine.errors import LoadError

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64  # element nesting depth limit; libxml2 itself stops at 256 without huge_tree

# Every lxml switch that could fetch, expand or validate is off; XInclude is never processed
# because nothing here calls xinclude(). Comments and PIs are kept: they are harmless.
_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": False,
}
_DOCTYPE_REASON = "DOCTYPE declarations are not allowed (entities, external references)"

# What may precede a DOCTYPE in the prolog: whitespace, the XML declaration/PIs and comments.
_PROLOG_SKIP = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
# A str is already decoded, so any encoding it declares is stale once we encode it as UTF-8.
_DECLARED_ENCODING = re.compile(r"""^(\ufeff?<\?xml\s[^>]*?encoding\s*=\s*)(["'])[\w.:-]*\2""")
# lxml appends the position (we report it separately) and libxml2 adds hints meant for developers.
_MESSAGE_NOISE = re.compile(r",? (?:use XML_PARSE_HUGE option|see xmlCtxt\w+\.)|, line \d+, column \d+$")


@dataclass(frozen=True)
class BpmnDocument:
    """A BPMN file read safely: its bytes, parsed tree and content hash."""

    content: bytes  # the original bytes as uploaded
    root: etree._Element  # parsed root element (bpmn:definitions)
    sha256: str  # hex sha256 of content
    filename: str


def load_bpmn(
    source: bytes | str,
    *,
    filename: str = "<upload>",
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> BpmnDocument:
    """Parse BPMN XML without network, DTD entities or huge trees; raise LoadError naming line and reason."""
    if isinstance(source, str):
        # lxml refuses str with an encoding declaration, so hand it UTF-8 bytes that say so.
        source = _DECLARED_ENCODING.sub(r"\1\2UTF-8\2", source, count=1).encode("utf-8")
    content = bytes(source)
    if len(content) > max_bytes:
        raise LoadError(_too_big(len(content), max_bytes), filename=filename)
    if not content.strip():
        raise LoadError("empty file", filename=filename)

    # Refuse a DOCTYPE before libxml2 ever sees it, so no entity is declared, let alone expanded.
    doctype_at = _doctype_offset(content)
    if doctype_at is not None:
        raise LoadError(_DOCTYPE_REASON, line=content.count(b"\n", 0, doctype_at) + 1, filename=filename)

    root = _parse(content, filename, max_depth)
    # Backstop for encodings the byte scan cannot read (UTF-16, ...): the parser above
    # neither loads nor expands anything, so refusing afterwards is still safe.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise LoadError(_DOCTYPE_REASON, filename=filename)

    name = etree.QName(root)
    if name.namespace != BPMN_NS or name.localname != "definitions":
        where = f" in namespace {name.namespace}" if name.namespace else " without a namespace"
        raise LoadError(
            f"not a BPMN 2.0 document: root element is <{name.localname}>{where}",
            line=root.sourceline,
            filename=filename,
        )
    return BpmnDocument(content, root, hashlib.sha256(content).hexdigest(), filename)


def read_bpmn_file(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> BpmnDocument:
    """Read a file from disk (size checked before reading it all) and load it."""
    filename = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise LoadError(_too_big(size, max_bytes), filename=filename)
            # Bounded read: the file may grow after fstat, or be a device that reports size 0.
            content = handle.read(max_bytes + 1)
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}", filename=filename) from None
    return load_bpmn(content, filename=filename, max_bytes=max_bytes, max_depth=max_depth)


def _parse(content: bytes, filename: str, max_depth: int) -> etree._Element:
    """Build the tree with lxml, counting depth as elements open so deep nesting stops early."""
    events = etree.iterparse(io.BytesIO(content), events=("start", "end"), **_PARSER_OPTIONS)
    depth = 0
    try:
        # iterparse hands out the events it has before raising a parse error, so our depth
        # limit is reported ahead of libxml2's own (256) one.
        for event, element in events:
            depth += 1 if event == "start" else -1
            if depth > max_depth:
                raise LoadError(
                    f"elements nested deeper than {max_depth}", line=element.sourceline, filename=filename
                )
    except etree.XMLSyntaxError as exc:
        reason = _MESSAGE_NOISE.sub("", exc.msg or "").strip() or "malformed XML"
        raise LoadError(reason, line=exc.lineno or None, filename=filename) from None
    return events.root


def _doctype_offset(content: bytes) -> int | None:
    """Byte offset of a DOCTYPE in the prolog, or None (ASCII-compatible encodings only)."""
    pos = len(codecs.BOM_UTF8) if content.startswith(codecs.BOM_UTF8) else 0
    while match := _PROLOG_SKIP.match(content, pos):
        pos = match.end()
    return pos if content[pos : pos + 9].upper() == b"<!DOCTYPE" else None


def _too_big(size: int, limit: int) -> str:
    """The reason given when a file exceeds the size limit."""
    return f"file is {size} bytes, over the limit of {limit} bytes"
