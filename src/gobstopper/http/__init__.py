"""HTTP building blocks: request, responses, errors and helpers."""

from .errors import (
    BadRequest,
    BodyValidationError,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestTooLarge,
    UnsupportedMediaType,
)
from .helpers import abort, jsonify, make_response, send_file, send_from_directory
from .problem import problem
from .request import Request
from .response import FileResponse, JSONResponse, Response, StreamResponse, redirect

__all__ = [
    "BadRequest",
    "BodyValidationError",
    "FileResponse",
    "HTTPException",
    "JSONResponse",
    "MethodNotAllowed",
    "NotFound",
    "Request",
    "RequestTooLarge",
    "Response",
    "StreamResponse",
    "UnsupportedMediaType",
    "abort",
    "jsonify",
    "make_response",
    "problem",
    "redirect",
    "send_file",
    "send_from_directory",
]
