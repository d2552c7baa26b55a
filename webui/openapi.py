"""The OpenAPI 3.1 description of Kyso's HTTP API, served at /api/v1/openapi.json.

Checked by tests/test_service_api.py: valid OpenAPI, and every route of the
application is described here (and nothing else).
"""
from __future__ import annotations

from kyso import __version__

_ERROR = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_PDF = {"description": "A PDF document", "content": {"application/pdf": {"schema": {"type": "string",
                                                                                     "format": "binary"}}}}
_ERRORS = {str(code): _ERROR for code in (400, 401, 403, 404, 409, 413, 415, 422, 503)}


def _multipart(properties: dict, required: list[str]) -> dict:
    return {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": properties, "required": required}}}}


_FILE = {"type": "string", "format": "binary"}
_LEVEL = {"type": "string", "enum": ["B-B", "B-T", "B-LT", "B-LTA"]}
_SHA = {"name": "sha256", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}
_FORMAT = {"name": "format", "in": "query", "required": False,
           "schema": {"type": "string", "enum": ["json", "html", "pdf"]}}


def _op(summary: str, *, body=None, responses=None, params=None, secured=True, tags=("kyso",)) -> dict:
    op = {"summary": summary, "tags": list(tags), "responses": {**(responses or {"200": {"description": "OK"}}),
                                                               **_ERRORS}}
    if body is not None:
        op["requestBody"] = body
    if params:
        op["parameters"] = params
    if not secured:
        op["security"] = []
    return op


def spec() -> dict:
    report = {"description": "A verification report (schema kyso.verification/1, docs/verification.md)",
              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}},
                          "text/html": {"schema": {"type": "string"}},
                          "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
    paths = {
        "/healthz": {"get": _op("Liveness", secured=False)},
        "/readyz": {"get": _op("Readiness: database, key store, TSA and OCSP", secured=False,
                               responses={"200": {"description": "ready"}, "503": {"description": "not ready"}})},
        "/metrics": {"get": _op("Prometheus metrics", secured=False,
                                responses={"200": {"description": "text exposition format"}})},
        "/api/v1/openapi.json": {"get": _op("This document", secured=False)},
        "/api/v1/sign": {"post": _op(
            "Sign with the authenticated user's own key (never one named in the request)",
            body=_multipart({"file": _FILE, "level": _LEVEL, "reason": {"type": "string"},
                             "location": {"type": "string"}, "field": {"type": "string"},
                             "appearance": {"type": "string", "enum": ["invisible", "personal"]},
                             "page": {"type": "integer"}, "box": {"type": "string"},
                             "passphrase": {"type": "string", "description": "PKCS#12 keys only; never stored"}},
                            ["file"]), responses={"200": _PDF})},
        "/api/v1/sign/prepare": {"post": _op(
            "Two-step signing, step 1: the digest for the official's own device",
            body=_multipart({"file": _FILE, "level": _LEVEL, "reason": {"type": "string"}}, ["file"]))},
        "/api/v1/sign/finish": {"post": _op(
            "Two-step signing, step 2: embed the device's signature value or CMS (base64)",
            body=_multipart({"handle": {"type": "string"}, "signature": {"type": "string"},
                             "cms": {"type": "string"}}, ["handle"]), responses={"200": _PDF})},
        "/api/v1/issue": {"post": _op(
            "Clerk: number, date and agency signature on a personally signed draft (Decree 30)",
            body=_multipart({"file": _FILE, "type": {"type": "string"}, "unit": {"type": "string"},
                             "place": {"type": "string"}, "summary": {"type": "string"},
                             "recipient": {"type": "array", "items": {"type": "string"}}, "level": _LEVEL},
                            ["file", "type"]), responses={"200": _PDF})},
        "/api/v1/sign-attachment": {"post": _op(
            "Clerk: agency signature on an attachment, referring to the main document's number",
            body=_multipart({"file": _FILE, "main_number": {"type": "string"}, "level": _LEVEL},
                            ["file", "main_number"]), responses={"200": _PDF})},
        "/api/v1/copy": {"post": _op(
            "Clerk: an SY/SL/TrS copy of an issued original",
            body=_multipart({"file": _FILE, "form": {"type": "string", "enum": ["SY", "SL", "TrS"]},
                             "pages": {"type": "string"}, "level": _LEVEL}, ["file", "form"]),
            responses={"200": _PDF})},
        "/api/v1/verify": {"post": _op(
            "Verify one document", body=_multipart({"file": _FILE}, ["file"]), params=[_FORMAT],
            responses={"200": report})},
        "/api/v1/verify/batch": {"post": _op(
            "Verify many documents (parts 'files' or one 'zip'): one JSON line per file as each finishes",
            body=_multipart({"files": {"type": "array", "items": _FILE}, "zip": _FILE}, []),
            responses={"200": {"description": "application/x-ndjson: {index, total, file, verdict, reasons, report}"}})},
        "/api/v1/documents/{sha256}": {"get": _op("Download a stored document", params=[_SHA],
                                                  responses={"200": _PDF})},
        "/api/v1/documents/{sha256}/revisions": {"get": _op("The revisions its signatures cover", params=[_SHA])},
        "/api/v1/documents/{sha256}/revisions/{field}": {"get": _op(
            "The exact revision a signature covers (what the signer saw)",
            params=[_SHA, {"name": "field", "in": "path", "required": True, "schema": {"type": "string"}}],
            responses={"200": _PDF})},
        "/api/v1/documents/{sha256}/report": {"get": _op(
            "The verification report of a stored document", params=[_SHA, {
                "name": "format", "in": "query", "required": False,
                "schema": {"type": "string", "enum": ["json", "html", "pdf", "etsi-xml"]}}], responses={"200": report})},
        "/api/v1/documents/{sha256}/history": {"get": _op("Auditor: a document's registers, audit trail and signatures",
                                                          params=[_SHA])},
        "/api/v1/registers/{which}": {"get": _op(
            "Auditor: the outgoing or incoming register", params=[
                {"name": "which", "in": "path", "required": True,
                 "schema": {"type": "string", "enum": ["outgoing", "incoming"]}},
                {"name": "year", "in": "query", "required": False, "schema": {"type": "integer"}},
                {"name": "status", "in": "query", "required": False, "schema": {"type": "string"}}])},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Kyso", "version": __version__,
                 "description": "Ký số: signing and verifying PDF documents for Vietnamese state offices. "
                                "Errors: {\"error\": {\"code\", \"message\", \"message_vi\"}} (docs/errors.md)."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message", "message_vi"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                   "message_vi": {"type": "string"}, "detail": {"type": "object"}}}}},
                "Report": {"type": "object", "required": ["schema", "verdict", "reasons", "signatures"],
                           "properties": {"schema": {"const": "kyso.verification/1"},
                                          "verdict": {"enum": ["valid", "invalid", "indeterminate", "unsigned"]},
                                          "reasons": {"type": "array"}, "signatures": {"type": "array"},
                                          "decree30": {"type": ["object", "null"]}}},
            },
        },
    }
