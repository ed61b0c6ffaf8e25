"""``parse_multipart``: the reference's synchronous parser for a multipart body already read into memory.

Prefer ``await request.form()`` / ``await request.get_files()``, which parse while the body streams. This one
exists so code written for the reference (``form, files = parse_multipart(body, content_type)``) runs as is; it
applies the same caps (fields, files, bytes per text field) and answers malformed input with a 400.
"""

from __future__ import annotations

import weakref

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers, UploadFile

from ._text import decode_wire
from .errors import BadRequest, UnsupportedMediaType
from .file_storage import FileStorage, UploadSpool
from .forms import MAX_FORM_FIELDS, MAX_FORM_FILES, MAX_PART_BYTES

_SPOOL_BYTES = 1024 * 1024


class _Part:
    __slots__ = ("data", "file", "filename", "headers", "name")

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.name = ""
        self.filename: str | None = None
        self.data = bytearray()
        self.file: UploadSpool | None = None


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, list[str]], dict[str, FileStorage]]:
    """Parse a ``multipart/form-data`` body: ``({field: [values]}, {field: FileStorage})``.

    Raises:
        UnsupportedMediaType: ``content_type`` is not multipart/form-data (415).
        BadRequest: no boundary, a malformed body, or past a cap (400).
    """
    mimetype, options = parse_options_header(content_type)
    if mimetype != b"multipart/form-data":
        raise UnsupportedMediaType("Expected a multipart/form-data body.")
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest("Invalid form body: no multipart boundary.")
    fields: dict[str, list[str]] = {}
    files: dict[str, FileStorage] = {}
    counts = {"fields": 0, "files": 0}
    current = _Part()
    header_name = bytearray()
    header_value = bytearray()

    def on_part_begin() -> None:
        nonlocal current
        current = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        current.headers.append((bytes(header_name).lower(), bytes(header_value)))
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        disposition = dict(current.headers).get(b"content-disposition", b"")
        _, params = parse_options_header(disposition)
        if b"name" not in params:
            raise BadRequest("Invalid form body: a part has no name.")
        current.name = decode_wire(params[b"name"])
        if b"filename" in params:
            counts["files"] += 1
            if counts["files"] > MAX_FORM_FILES:
                raise BadRequest(f"Invalid form body: more than {MAX_FORM_FILES} files.")
            current.filename = decode_wire(params[b"filename"])
            current.file = UploadSpool(max_size=_SPOOL_BYTES)
        else:
            counts["fields"] += 1
            if counts["fields"] > MAX_FORM_FIELDS:
                raise BadRequest(f"Invalid form body: more than {MAX_FORM_FIELDS} fields.")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if current.file is not None:
            current.file.write(data[start:end])
            return
        if len(current.data) + (end - start) > MAX_PART_BYTES:
            raise BadRequest(f"Invalid form body: a field is larger than {MAX_PART_BYTES} bytes.")
        current.data.extend(data[start:end])

    def on_part_end() -> None:
        if current.file is None:
            fields.setdefault(current.name, []).append(decode_wire(current.data))
            return
        current.file.seek(0)
        headers = Headers(raw=current.headers)
        upload = UploadFile(current.file, filename=current.filename, headers=headers)  # type: ignore[arg-type]
        if current.name in files:
            current.file.close()
            return
        storage = files[current.name] = FileStorage(current.name, upload)
        # No request owns these files: close each when its FileStorage goes.
        weakref.finalize(storage, current.file.close)

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except BadRequest:
        raise
    except Exception as exc:  # python-multipart's own errors: the body is malformed
        raise BadRequest(f"Invalid form body: {exc}") from None
    return fields, files
