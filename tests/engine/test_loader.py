"""Tests for the safe BPMN loader: valid files load, hostile or broken ones raise LoadError."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
from lxml import etree

from engine.errors import LoadError
from engine.loader import BPMN_NS, BpmnDocument, load_bpmn, read_bpmn_file

DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
OPEN = f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" id="defs" targetNamespace="http://leanflow/test">\n'
CLOSE = "</bpmn:definitions>\n"
MINIMAL = (
    DECL
    + OPEN
    + '  <bpmn:process id="p1" name="支部委员会" isExecutable="true">\n'
    + '    <bpmn:startEvent id="start"/>\n'
    + "  </bpmn:process>\n"
    + CLOSE
)


def bpmn(body: str = "") -> str:
    """A BPMN document wrapping the given body text."""
    return DECL + OPEN + body + CLOSE


def assert_refused_fast(data: bytes, match: str) -> LoadError:
    """Loading must raise LoadError matching `match` in well under a second."""
    started = time.perf_counter()
    with pytest.raises(LoadError, match=match) as info:
        load_bpmn(data)
    assert time.perf_counter() - started < 1.0
    return info.value


def test_minimal_document_loads_with_hash_and_text() -> None:
    data = MINIMAL.encode("utf-8")
    doc = load_bpmn(data, filename="minimal.bpmn")
    assert isinstance(doc, BpmnDocument)
    assert doc.content == data
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert doc.filename == "minimal.bpmn"
    assert doc.root.tag == f"{{{BPMN_NS}}}definitions"
    process = doc.root.find(f"{{{BPMN_NS}}}process")
    assert process is not None and process.get("name") == "支部委员会"
    assert process.sourceline == 3


def test_str_with_encoding_declaration_is_accepted() -> None:
    doc = load_bpmn(MINIMAL)
    assert doc.content == MINIMAL.encode("utf-8")
    assert doc.sha256 == hashlib.sha256(MINIMAL.encode("utf-8")).hexdigest()
    assert doc.root.find(f"{{{BPMN_NS}}}process").get("name") == "支部委员会"


def test_str_declaring_another_encoding_is_read_as_the_text_it_is() -> None:
    # A str is already decoded: a stale "ISO-8859-1" must not turn Chinese into mojibake.
    text = MINIMAL.replace('encoding="UTF-8"', "encoding='ISO-8859-1'")
    doc = load_bpmn(text)
    assert doc.root.find(f"{{{BPMN_NS}}}process").get("name") == "支部委员会"
    assert doc.content.startswith(b"<?xml version=\"1.0\" encoding='UTF-8'?>")


def test_malformed_xml_names_the_line() -> None:
    data = bpmn('  <bpmn:process id="p1">\n  </bpmn:task>\n').encode()
    with pytest.raises(LoadError, match="Opening and ending tag mismatch") as info:
        load_bpmn(data, filename="broken.bpmn")
    assert info.value.line == 4
    assert info.value.filename == "broken.bpmn"
    assert str(info.value).startswith("broken.bpmn:4: ")
    assert "column" not in info.value.reason  # the position is reported once, as .line


def test_invalid_utf8_is_refused_with_lxmls_reason() -> None:
    data = bpmn('  <bpmn:process id="p1" name="ok"/>\n').encode().replace(b'"ok"', b'"\xc3\x28"')
    with pytest.raises(LoadError, match="(?i)encoding|utf-8") as info:
        load_bpmn(data)
    assert info.value.line == 3


def test_xxe_file_entity_is_refused_and_secret_never_appears(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-7f3a9c")
    data = (
        DECL
        + f'<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
        + OPEN
        + '  <bpmn:process id="p1" name="&xxe;">&xxe;</bpmn:process>\n'
        + CLOSE
    )
    error = assert_refused_fast(data.encode(), "DOCTYPE declarations are not allowed")
    assert error.line == 2
    assert "TOPSECRET" not in str(error) and "TOPSECRET" not in error.reason


def test_xxe_in_utf16_is_refused_by_the_backstop_without_leaking(tmp_path: Path) -> None:
    # The byte pre-scan cannot read UTF-16; the post-parse docinfo check must still refuse it.
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-utf16")
    data = (
        f'<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
        + OPEN
        + '  <bpmn:process id="p1">&xxe;</bpmn:process>\n'
        + CLOSE
    ).encode("utf-16")
    error = assert_refused_fast(data, "DOCTYPE declarations are not allowed")
    assert "TOPSECRET" not in str(error)


def test_system_file_never_leaks_into_the_error() -> None:
    hostname = Path("/etc/hostname")
    if not hostname.exists() or not hostname.read_text().strip():
        pytest.skip("no /etc/hostname to probe with")
    data = DECL + '<!DOCTYPE r [<!ENTITY h SYSTEM "file:///etc/hostname">]>\n<r>&h;</r>\n'
    error = assert_refused_fast(data.encode(), "DOCTYPE")
    assert hostname.read_text().strip() not in str(error)


def test_parameter_entity_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.dtd"
    evil.write_text('<!ENTITY leak "TOPSECRET-param">')
    data = DECL + f'<!DOCTYPE r [\n  <!ENTITY % p SYSTEM "{evil.as_uri()}">\n  %p;\n]>\n' + OPEN + CLOSE
    error = assert_refused_fast(data.encode(), "DOCTYPE declarations are not allowed")
    assert error.line == 2
    assert "TOPSECRET" not in str(error)


def test_billion_laughs_is_refused_fast() -> None:
    entities = '<!ENTITY lol0 "lol">\n' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10)
    )
    data = DECL + f"<!DOCTYPE bpmn:definitions [\n{entities}]>\n" + OPEN + "&lol9;" + CLOSE
    error = assert_refused_fast(data.encode(), "DOCTYPE declarations are not allowed")
    assert error.line == 2


def test_quadratic_blowup_is_refused_fast() -> None:
    big = "x" * 100_000
    body = f'  <bpmn:process id="p1" name="{"&big;" * 10_000}"/>\n'
    data = f'<!DOCTYPE bpmn:definitions [<!ENTITY big "{big}">]>\n' + OPEN + body + CLOSE
    error = assert_refused_fast(data.encode(), "DOCTYPE declarations are not allowed")
    assert error.line == 1


def test_any_doctype_is_refused_even_after_comments_and_pis() -> None:
    data = DECL + "<!-- exported -->\n<?modeler v1?>\n<!DOCTYPE bpmn:definitions>\n" + OPEN + CLOSE
    error = assert_refused_fast(data.encode(), "DOCTYPE declarations are not allowed")
    assert error.line == 4


def test_doctype_text_inside_cdata_is_not_mistaken_for_a_doctype() -> None:
    script = '  <bpmn:scriptTask id="s"><bpmn:script><![CDATA[html = "<!DOCTYPE html>"]]></bpmn:script>'
    doc = load_bpmn(bpmn(script + "</bpmn:scriptTask>\n"))
    assert doc.root.findtext(f".//{{{BPMN_NS}}}script") == 'html = "<!DOCTYPE html>"'


def test_xinclude_is_never_processed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-xinclude")
    xi = "http://www.w3.org/2001/XInclude"
    include = f'  <xi:include xmlns:xi="{xi}" href="{secret.as_uri()}" parse="text"/>\n'
    doc = load_bpmn(bpmn(include))
    assert b"TOPSECRET" not in etree.tostring(doc.root)
    assert doc.root[0].tag == "{http://www.w3.org/2001/XInclude}include"


def test_comments_and_processing_instructions_are_kept() -> None:
    doc = load_bpmn(bpmn("  <!-- note -->\n  <?leanflow hint?>\n"))
    assert [type(node) for node in doc.root] == [etree._Comment, etree._ProcessingInstruction]


def test_size_limit_is_checked_before_parsing() -> None:
    data = b"<" * 101  # malformed too: the size reason must win, proving no parse happened
    with pytest.raises(LoadError, match="file is 101 bytes, over the limit of 100 bytes") as info:
        load_bpmn(data, max_bytes=100)
    assert info.value.line is None
    assert load_bpmn(MINIMAL, max_bytes=len(MINIMAL.encode())).root is not None  # exactly at the limit


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    depth = 10_000
    body = "<bpmn:extensionElements>\n" * depth + "</bpmn:extensionElements>\n" * depth
    started = time.perf_counter()
    with pytest.raises(LoadError, match="elements nested deeper than 64") as info:
        load_bpmn(bpmn(body))
    assert time.perf_counter() - started < 1.0
    # The root is depth 1 on line 2; the first element at depth 65 opens on line 66.
    assert info.value.line == 66


def test_custom_depth_limit_is_exact() -> None:
    body = "<bpmn:process id='p'><bpmn:startEvent id='s'/></bpmn:process>\n"  # depth 3
    assert load_bpmn(bpmn(body), max_depth=3).root is not None
    with pytest.raises(LoadError, match="elements nested deeper than 2") as info:
        load_bpmn(bpmn(body), max_depth=2)
    assert info.value.line == 3


def test_wrong_root_is_refused() -> None:
    with pytest.raises(LoadError, match=r"not a BPMN 2.0 document: root element is <html>") as info:
        load_bpmn(DECL + "\n<html><body/></html>")
    assert info.value.line == 3


def test_definitions_in_the_wrong_namespace_is_refused() -> None:
    data = '<definitions xmlns="http://www.omg.org/spec/DD/20100524/DI"/>'
    with pytest.raises(
        LoadError, match="root element is <definitions> in namespace http://www.omg.org/spec/DD"
    ):
        load_bpmn(data)


@pytest.mark.parametrize("data", [b"", "", b"  \n\t "])
def test_empty_input_is_refused(data: bytes | str) -> None:
    with pytest.raises(LoadError, match="empty file"):
        load_bpmn(data)


@pytest.mark.parametrize(
    "data",
    [b"\x00\x01\x02", b"<", b"<?xml", b"<!--", b"<a", b"\xff\xfe<", "<a>&undefined;</a>", b"<a/><b/>"],
)
def test_garbage_raises_only_load_error(data: bytes | str) -> None:
    with pytest.raises(LoadError) as info:
        load_bpmn(data)
    assert info.value.reason and "Traceback" not in str(info.value)


def test_read_bpmn_file_loads_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "proc.bpmn"
    path.write_bytes(MINIMAL.encode())
    doc = read_bpmn_file(path)
    assert doc.filename == str(path)
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_read_bpmn_file_refuses_a_huge_file_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.bpmn"
    with path.open("wb") as handle:
        handle.truncate(2**33)  # sparse 8 GiB: reading it all would take far longer than allowed
    started = time.perf_counter()
    with pytest.raises(LoadError, match=f"file is {2**33} bytes, over the limit of {5 * 1024 * 1024} bytes"):
        read_bpmn_file(path)
    assert time.perf_counter() - started < 0.5


def test_read_bpmn_file_bounds_reads_of_sizeless_files() -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    # /dev/zero reports size 0 but never ends: only the bounded read keeps this finite.
    with pytest.raises(LoadError, match="file is 1025 bytes, over the limit of 1024 bytes"):
        read_bpmn_file("/dev/zero", max_bytes=1024)


def test_read_bpmn_file_missing_file_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="cannot read file: No such file"):
        read_bpmn_file(tmp_path / "absent.bpmn")
