"""HTTP building blocks: request, responses, errors, helpers and server-sent events."""

from .errors import (
    BadRequest,
    BodyValidationError,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestTimeout,
    RequestTooLarge,
    UnsupportedMediaType,
)
from .file_storage import FileStorage, secure_filename
from .helpers import abort, jsonify, make_response, send_file, send_from_directory
from .negotiation import negotiate, negotiate_response
from .problem import problem
from .request import Request
from .response import FileResponse, JSONResponse, Response, StreamResponse, redirect
from .sse import EventSourceResponse, ServerSentEvent

__all__ = [
    "BadRequest",
    "BodyValidationError",
    "EventSourceResponse",
    "FileResponse",
    "FileStorage",
    "HTTPException",
    "JSONResponse",
    "MethodNotAllowed",
    "NotFound",
    "Request",
    "RequestTimeout",
    "RequestTooLarge",
    "Response",
    "ServerSentEvent",
    "StreamResponse",
    "UnsupportedMediaType",
    "abort",
    "jsonify",
    "make_response",
    "negotiate",
    "negotiate_response",
    "problem",
    "redirect",
    "secure_filename",
    "send_file",
    "send_from_directory",
]
