"""The tables of Kyso's registers (Decree 30 Art. 16, 22), documents and audit trail."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, DateTime, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base


class StoredDocument(Base):
    """A PDF kept in the content-addressed store (``registers.blobstore``)."""

    __tablename__ = "document"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    origin: Mapped[str] = mapped_column(String(32))          # "issued", "received", "signed", "copy", "notice"


class NumberCounter(Base):
    __tablename__ = "number_counter"
    agency: Mapped[str] = mapped_column(String(64), primary_key=True)
    book: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class OutgoingEntry(Base):
    """The outgoing register (sổ đăng ký văn bản đi): one row per number of a book, issued or void."""

    __tablename__ = "outgoing"
    agency: Mapped[str] = mapped_column(String(64), primary_key=True)
    book: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))           # reserved | issued | void
    reason: Mapped[str | None] = mapped_column(Text)           # why void
    doc_type: Mapped[str | None] = mapped_column(String(16))
    summary: Mapped[str | None] = mapped_column(Text)          # trích yếu
    signer: Mapped[str | None] = mapped_column(Text)
    issue_date: Mapped[date | None] = mapped_column(Date)
    recipients: Mapped[list | None] = mapped_column(JSON)
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    report: Mapped[dict | None] = mapped_column(JSON)          # verification report of the issued file
    reserved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # one draft, one number: the personally signed draft this entry was issued from, and its personal signature
    source_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    personal_signature_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    clerk: Mapped[str | None] = mapped_column(String(64))       # the account that issued it
    __table_args__ = (UniqueConstraint("agency", "year", "number", "symbol", name="outgoing_number_symbol"),)


class DocumentVersion(Base):
    """A stored document replaced by a stronger version of itself: validation data and document
    timestamps added (``extend``) or a new document timestamp (``renew``). The chain of successors
    leads to the version to keep; the earlier ones stay in the store, unchanged."""

    __tablename__ = "document_version"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    successor_sha256: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(16))            # extend | renew
    level: Mapped[str] = mapped_column(String(8))              # what the successor carries
    protected_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    username: Mapped[str | None] = mapped_column(String(64))


class DocumentAccess(Base):
    """Who may read a stored document: the agencies that produced or received it (auditors read all)."""

    __tablename__ = "document_access"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))            # signed | issued | copy | attachment | received | ...
    username: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IncomingCounter(Base):
    __tablename__ = "incoming_counter"
    agency: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class IncomingEntry(Base):
    """The incoming register (sổ đăng ký văn bản đến), with the evidence behind each verdict."""

    __tablename__ = "incoming"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(64))             # the receiving agency
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)                 # số đến
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sender: Mapped[str] = mapped_column(Text)
    sender_reference: Mapped[str | None] = mapped_column(Text)  # the sender's number and symbol
    summary: Mapped[str | None] = mapped_column(Text)
    document_sha256: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))
    report: Mapped[dict] = mapped_column(JSON)
    evidence: Mapped[dict | None] = mapped_column(JSON)         # chain, OCSP/CRL, timestamps, validation time
    status: Mapped[str] = mapped_column(String(16))             # received | returned
    return_reason_vi: Mapped[str | None] = mapped_column(Text)
    return_reason_en: Mapped[str | None] = mapped_column(Text)
    notice_sha256: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("agency", "year", "number", name="incoming_number"),)


class AuditRecord(Base):
    """One operation, hash-chained to the previous record and authenticated with an HMAC."""

    __tablename__ = "audit"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(48))
    documents: Mapped[list] = mapped_column(JSON)
    certificate: Mapped[str | None] = mapped_column(String(64))  # SHA-256 fingerprint
    result: Mapped[str] = mapped_column(String(32))
    client: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))


class User(Base):
    """Someone who uses the service, with one role and (for signers) one key."""

    __tablename__ = "kyso_user"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))              # official | clerk | receiver | auditor | admin
    key_kind: Mapped[str | None] = mapped_column(String(16))   # pkcs11 | pkcs12 | dev
    key_ref: Mapped[str | None] = mapped_column(Text)          # token key label, PKCS#12 blob SHA-256, dev label
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    image_sha256: Mapped[str | None] = mapped_column(String(64))   # signature image (official) or seal (clerk)
    agency: Mapped[str | None] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """An API token, stored as its SHA-256 only; shown once when issued."""

    __tablename__ = "api_token"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A web session: the browser holds a random id, the table only its SHA-256. Live while not
    revoked (logout, a rotated or revoked token, a disabled account) and not expired."""

    __tablename__ = "web_session"
    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginFailure(Base):
    """Failed logins counted in a fixed window, per client address or per account, shared by every
    process on the database."""

    __tablename__ = "login_failure"
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)     # address | account
    key: Mapped[str] = mapped_column(String(128), primary_key=True)     # the address (an IPv6 /64) or username
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    count: Mapped[int] = mapped_column(Integer)


class PendingSignature(Base):
    """A two-step signature between prepare and finish: the prepared PDF and its state (JSON), in
    the database every node shares, so that any node can finish it (once) before it expires."""

    __tablename__ = "pending_signature"
    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class VerifyJob(Base):
    """A bulk verification submitted once and done by workers on any node: who asked (its audit
    records are theirs), what, and when."""

    __tablename__ = "verify_job"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))                  # upload | stored
    total: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))   # pending items last queued


class VerifyJobItem(Base):
    """One document of a job: pending until a worker stores its report (exactly once)."""

    __tablename__ = "verify_job_item"
    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str | None] = mapped_column(String(64))        # None: the file could not be read
    status: Mapped[str] = mapped_column(String(16))               # pending | done
    verdict: Mapped[str | None] = mapped_column(String(16))
    report: Mapped[str | None] = mapped_column(Text)              # the report's JSON, or the read error's
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
