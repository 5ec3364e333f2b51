"""Uploaded files, kept outside the database by content hash; the engine only sees {sha256, name, size, type}.

A file is accepted when its extension is on the list and its first bytes match that type (the browser's
Content-Type is ignored); its sha256 names it, so the same file uploaded twice is stored once. Files are written
to a temporary name and renamed, so a half-written upload is never found under a hash.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

CHUNK = 64 * 1024
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"
# extension: (type recorded and served, first bytes it must start with; None for UTF-8 text)
TYPES: dict[str, tuple[str, bytes | None]] = {
    ".pdf": ("application/pdf", b"%PDF-"),
    ".png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    ".jpg": ("image/jpeg", b"\xff\xd8\xff"),
    ".jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _ZIP),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ZIP),
    ".doc": ("application/msword", _OLE),
    ".xls": ("application/vnd.ms-excel", _OLE),
    ".txt": ("text/plain", None),
}
SHA256 = re.compile(r"[0-9a-f]{64}")


class UploadRejected(Exception):
    """An upload that is too large, of a type not accepted, or whose content does not match its name."""


class FileStore:
    """Content-addressed files under one folder: attachments/<ab>/<sha256> and staged/<sha256>.bpmn."""

    def __init__(self, root: str | Path, *, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def save_attachment(self, stream: IO[bytes], filename: str) -> dict[str, Any]:
        """Check and store an uploaded attachment; return what the engine records."""
        name = display_name(filename)
        extension = os.path.splitext(name)[1].lower()
        if extension not in TYPES:
            raise UploadRejected(_("不支持的文件类型（可上传：%(types)s）", types="、".join(sorted(TYPES))))
        kind, magic = TYPES[extension]
        path, sha256, size, head = self._receive(stream, self.root / "attachments")
        try:
            if size == 0:
                raise UploadRejected(_("文件是空的"))
            if magic is not None and not head.startswith(magic):
                raise UploadRejected(_("文件内容与扩展名 %(ext)s 不符", ext=extension))
            if magic is None and not _utf8(path):
                raise UploadRejected(_("文本文件须为 UTF-8 编码"))
            final = self.attachment_path(sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, final)
        finally:
            path.unlink(missing_ok=True)
        return {"sha256": sha256, "name": name, "size": size, "type": kind}

    def attachment_path(self, sha256: str) -> Path:
        """Where an attachment with this hash is (or would be) stored."""
        if not SHA256.fullmatch(sha256):
            raise UploadRejected(_("附件校验值无效"))
        return self.root / "attachments" / sha256[:2] / sha256

    def stage(self, content: bytes) -> str:
        """Keep an uploaded BPMN file until it is deployed; return its sha256."""
        sha256 = hashlib.sha256(content).hexdigest()
        folder = self.root / "staged"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{sha256}.bpmn").write_bytes(content)
        return sha256

    def staged(self, sha256: str) -> bytes | None:
        """Return a staged BPMN file by its hash, if it is still there and unchanged."""
        if not SHA256.fullmatch(sha256):
            return None
        path = self.root / "staged" / f"{sha256}.bpmn"
        if not path.is_file():
            return None
        content = path.read_bytes()
        return content if hashlib.sha256(content).hexdigest() == sha256 else None

    def _receive(self, stream: IO[bytes], folder: Path) -> tuple[Path, str, int, bytes]:
        folder.mkdir(parents=True, exist_ok=True)
        digest, size, head = hashlib.sha256(), 0, b""
        handle, name = tempfile.mkstemp(dir=folder, prefix=".upload-")
        path = Path(name)
        with os.fdopen(handle, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    out.close()
                    path.unlink(missing_ok=True)
                    raise UploadRejected(_("文件过大（最大 %(mb)s MB）", mb=round(self.max_bytes / 1048576, 1)))
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        return path, digest.hexdigest(), size, head


def _utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def display_name(filename: str | None) -> str:
    """Keep the last part of an uploaded file's name, without control characters, at most 200 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(c for c in name if c.isprintable()).strip() or "upload"
    return name[-200:]


def store() -> FileStore:
    """Return the app's file store."""
    config = current_app.config
    return FileStore(config["UPLOAD_FOLDER"], max_bytes=int(config["ATTACHMENT_MAX_BYTES"]))


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="leanflow-attachment")


def sign(value: dict[str, Any]) -> str:
    """Sign an attachment reference, so a form re-shown after failed checks keeps the file without trusting it."""
    return str(_signer().dumps(value))


def unsign(token: str) -> dict[str, Any] | None:
    """Read back a signed attachment reference whose file still exists, or None."""
    try:
        value = _signer().loads(token)
    except BadSignature:
        return None
    if not isinstance(value, dict) or not SHA256.fullmatch(str(value.get("sha256", ""))):
        return None
    return value if store().attachment_path(value["sha256"]).is_file() else None
