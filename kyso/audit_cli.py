"""``kyso audit``: check and export the audit trail.

    kyso audit verify [--expect-at-least N]       exit 0 intact, 1 tampered
    kyso audit export --format jsonl|csv [--out FILE]

The database is ``KYSO_DATABASE_URL`` (or ``DATABASE_URL``; default
``sqlite:///DATA_DIR/kyso.sqlite``) and the HMAC key ``KYSO_AUDIT_KEY``. ``verify`` prints
the :class:`registers.audit.VerifyResult` as one JSON line on stdout and a bilingual
line on stderr. Settings or database errors print ``{"error": ...}`` on stderr and exit
with 2 (so that 1 always means "tampered"). A CSV written to ``--out`` starts with a
UTF-8 byte order mark so that Excel shows the Vietnamese names correctly.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from kyso.errors import ConfigurationError, KysoError

DEV_AUDIT_KEY = "kyso-dev-audit-key-not-for-production"


def database_url(settings) -> str:
    url = getattr(settings, "database_url", None) or os.environ.get("KYSO_DATABASE_URL") \
        or os.environ.get("DATABASE_URL")
    return url or f"sqlite:///{Path(settings.data_dir) / 'kyso.sqlite'}"


def audit_key(settings) -> bytes:
    key = getattr(settings, "audit_key", None) or os.environ.get("KYSO_AUDIT_KEY") or DEV_AUDIT_KEY
    if settings.is_production and key == DEV_AUDIT_KEY:
        raise ConfigurationError("KYSO_AUDIT_KEY: the development audit key is refused in production",
                                 message_vi="KYSO_AUDIT_KEY: khóa kiểm toán dùng cho phát triển bị từ chối "
                                            "ở chế độ production")
    data = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(data) < 16:
        raise ConfigurationError("KYSO_AUDIT_KEY must be at least 16 bytes",
                                 message_vi="KYSO_AUDIT_KEY phải dài ít nhất 16 byte")
    return data


def _error(exc: Exception) -> None:
    if isinstance(exc, KysoError):
        body = exc.to_dict()
    else:
        body = {"error": {"code": "audit_unavailable",
                          "message": f"the audit trail cannot be read: {exc.__class__.__name__}: "
                                     f"{str(exc).splitlines()[0] if str(exc) else ''}",
                          "message_vi": "Không đọc được nhật ký kiểm toán."}}
    click.echo(json.dumps(body, ensure_ascii=False), err=True)
    sys.exit(2)


def _open_trail():
    from kyso.settings import Settings
    from registers.audit import AuditTrail
    from registers.db import Database

    settings = Settings.from_env()
    key = audit_key(settings)
    return AuditTrail(Database.connect(database_url(settings)), key=key)


@click.group("audit")
def audit() -> None:
    """The audit trail: check its hash chain and HMACs, export it (nhật ký kiểm toán)."""


@audit.command("verify")
@click.option("--expect-at-least", type=click.IntRange(min=0), default=None,
              help="Records known to exist (from an earlier report): fewer means the last ones were deleted.")
def verify(expect_at_least: int | None) -> None:
    """Check every record; exit 0 when intact, 1 naming the first tampered record."""
    from sqlalchemy.exc import SQLAlchemyError

    trail = None
    try:
        trail = _open_trail()
        result = trail.verify(expected_at_least=expect_at_least)
    except (KysoError, SQLAlchemyError, OSError) as exc:
        _error(exc)
        return
    finally:
        if trail is not None:
            trail.db.dispose()
    click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    label = "NGUYÊN VẸN / intact" if result.ok else "BỊ SỬA ĐỔI / tampered"
    click.secho(f"{label}: {result.message_vi} / {result.message_en}", err=True,
                fg="green" if result.ok else "red")
    sys.exit(0 if result.ok else 1)


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file (default: standard output).")
def export(fmt: str, out: Path | None) -> None:
    """Write every record in seq order as JSON Lines or CSV (UTF-8)."""
    from sqlalchemy.exc import SQLAlchemyError

    trail = None
    try:
        trail = _open_trail()
        write = trail.export_jsonl if fmt == "jsonl" else trail.export_csv
        if out is None:
            count = write(sys.stdout)
        else:
            encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
            with open(out, "w", encoding=encoding, newline="") as handle:
                count = write(handle)
    except (KysoError, SQLAlchemyError, OSError) as exc:
        _error(exc)
        return
    finally:
        if trail is not None:
            trail.db.dispose()
    click.echo(f"{count} bản ghi / records", err=True)
