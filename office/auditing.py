"""The audit trail's use cases: verify it (its chain, then its latest checkpoint), export it, and
write a checkpoint of its head outside the database (``registers.checkpoints``).

When checkpoints are written
----------------------------
Two ways, both simple, documented in ``docs/deploy.md``:

* ``kyso audit checkpoint`` writes one now (the operator's cron job or systemd timer runs it,
  e.g. every 10 minutes); the office use case is :func:`checkpoint` (``Office.audit_checkpoint``);
* the service writes one on its own after every :data:`EVERY` records, at most every
  :data:`INTERVAL` (by the office's clock): each audit record the office appends costs one
  integer comparison (:func:`appended`); when one is due, a background thread asks the TSA
  and writes the files, so that no operation waits for the TSA or fails with it (a failure is
  logged, and retried at the next due record). The thread checkpoints the *committed* head,
  never a record whose transaction may still roll back, and takes the checkpoint folder's lock:
  several workers write one checkpoint, not one each.

The timestamp comes from the office's own TSA client (``SigningEngine.timestamper``): the TSA of
the settings, and in development the dev PKI's TSA answering as of the office's clock.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path

from office.caller import Caller

log = logging.getLogger("kyso.office")

#: the service writes a checkpoint when the head is this many records past the last one...
EVERY = 100
#: ...and the last one is at least this old
INTERVAL = timedelta(minutes=10)


def store(office):
    from registers.checkpoints import CHECKPOINT_DIR, CheckpointStore

    return CheckpointStore(Path(office.settings.data_dir) / CHECKPOINT_DIR, key=office.settings.audit_key.encode())


def _timestamp(office, moment: datetime):
    """``stamp(sha256 digest) -> token DER`` from the office's TSA, as of ``moment``."""
    from kyso import aio
    from signer import Level
    from signer.errors import TimestampUnavailable

    timestamper = office.engine.timestamper(Level.B_T, moment)

    def stamp(digest: bytes) -> bytes:
        try:
            return aio.run(timestamper.async_timestamp(digest, "sha256")).dump()
        except Exception as exc:  # noqa: BLE001 - the TSA is down or answers nonsense
            raise TimestampUnavailable(detail={"reason": f"{type(exc).__name__}: {exc}"[:500]}) from None
    return stamp


def _token_checker(office):
    """``check(token_der, canonical) -> TokenFacts``: the token's CMS signature and imprint, and
    its TSA's certificate path to the office's trust anchors, as of the token's own time (no
    fetching; revocation soft-fail: the token proves when the statement existed)."""
    from asn1crypto import cms, x509
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko.sign.validation.status import TimestampSignatureStatus
    from pyhanko_certvalidator import ValidationContext

    from kyso import aio
    from registers.checkpoints import CheckpointInvalid, TokenFacts, token_imprint

    trust = office.verification.trust

    def check(token: bytes, canonical: bytes) -> TokenFacts:
        try:
            signed = cms.ContentInfo.load(token)["content"]
            _, _, when = token_imprint(token)
            certs = [c.chosen for c in signed["certificates"] or () if isinstance(c.chosen, x509.Certificate)]
        except Exception:  # noqa: BLE001
            raise CheckpointInvalid("its timestamp token cannot be read", "không đọc được dấu thời gian") from None

        def imprint(algorithm: str) -> bytes:
            return hashlib.new(algorithm, canonical).digest()

        async def validate():
            context = ValidationContext(trust_roots=list(trust.anchors), other_certs=certs + list(trust.intermediates),
                                        moment=when, allow_fetching=False, revocation_mode="soft-fail")
            try:
                return await validate_tst_signed_data(signed, context, imprint)
            finally:
                await context.aclose()

        try:
            status = TimestampSignatureStatus(**aio.run(validate()))
        except Exception as exc:  # noqa: BLE001 - a token pyHanko cannot process is not a proof
            raise CheckpointInvalid(f"its timestamp token does not validate ({type(exc).__name__})",
                                    f"dấu thời gian không hợp lệ ({type(exc).__name__})") from None
        if not status.intact:
            raise CheckpointInvalid("its timestamp token covers other content",
                                    "dấu thời gian của nó cấp cho nội dung khác")
        if not status.valid:
            raise CheckpointInvalid("the signature of its timestamp token does not verify",
                                    "chữ ký của dấu thời gian không hợp lệ")
        tsa = status.signing_cert.subject.human_friendly if status.signing_cert is not None else None
        if not status.trusted:
            raise CheckpointInvalid(f"its timestamp comes from a TSA that is not trusted ({tsa})",
                                    f"dấu thời gian do máy chủ không được tin cậy cấp ({tsa})")
        return TokenFacts(time=when, tsa=tsa, trusted=True)
    return check


# -- the use cases ---------------------------------------------------------------------------------

def verify(office, caller: Caller, *, expected_at_least: int | None = None):
    """The chain, then the checkpoints: a truncated or emptied trail fails, naming what is missing."""
    caller.require("admin", "auditor")
    result = office.audit.verify(expected_at_least=expected_at_least)
    return store(office).judge(result, office.audit, check_token=_token_checker(office))


def export(office, caller: Caller, out, *, fmt: str) -> int:
    caller.require("admin", "auditor")
    return (office.audit.export_jsonl if fmt == "jsonl" else office.audit.export_csv)(out)


def checkpoint(office, caller: Caller | None = None):
    """Write a checkpoint of the committed head now (``caller`` None: the service itself)."""
    if caller is not None:
        caller.require("admin", "auditor")
    return _write(office, only_if_due=False)


def _write(office, *, only_if_due: bool):
    files = store(office)
    schedule = _schedule(office)
    with files.lock():
        moment = office.now()
        head = office.audit.head()
        if only_if_due:
            last = files.latest_by_name()   # another worker may just have written one
            if last is not None and (head[0] - last[0] < EVERY or moment - last[1] < INTERVAL):
                schedule.done(*last)
                return None
        written = files.write(head, at=moment, timestamp=_timestamp(office, moment))
    schedule.done(written.seq, moment)
    log.info("audit checkpoint %s: record %s, %s records", written.path, written.seq, written.records)
    return written


# -- the service's own checkpoints -----------------------------------------------------------------

class _Schedule:
    """When this process last saw a checkpoint written, and whether one is being written."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seq: int | None = None          # the newest checkpoint's seq (None: not looked yet)
        self.time: datetime | None = None    # its time, or of the last failed attempt (None: never)
        self.running = False

    def done(self, seq: int, moment: datetime | None) -> None:
        with self.lock:
            self.seq, self.time = seq, moment


_SCHEDULES_LOCK = threading.Lock()


def _schedule(office) -> _Schedule:
    schedule = getattr(office, "_checkpoint_schedule", None)
    if schedule is None:
        with _SCHEDULES_LOCK:
            schedule = getattr(office, "_checkpoint_schedule", None)
            if schedule is None:
                schedule = _Schedule()
                office._checkpoint_schedule = schedule
    return schedule


def appended(office, seq: int) -> None:
    """An audit record ``seq`` was appended (maybe not yet committed): start a checkpoint in the
    background when one is due. Cheap; never raises."""
    try:
        schedule = _schedule(office)
        if schedule.seq is None:   # first record of this process: the newest checkpoint on disk
            schedule.done(*(store(office).latest_by_name() or (0, None)))
        if seq - schedule.seq < EVERY:
            return
        moment = office.now()
        with schedule.lock:
            if schedule.running or (schedule.time is not None and moment - schedule.time < INTERVAL):
                return
            schedule.running = True
        threading.Thread(target=_background, args=(office, schedule), name="kyso-audit-checkpoint",
                         daemon=True).start()
    except Exception:  # noqa: BLE001 - checkpoints never fail an operation
        log.exception("audit checkpoint: could not decide or start")


def _background(office, schedule: _Schedule) -> None:
    try:
        _write(office, only_if_due=True)
    except Exception:  # noqa: BLE001 - logged; tried again after INTERVAL
        log.exception("audit checkpoint failed (tried again in %s)", INTERVAL)
        try:
            schedule.done(schedule.seq, office.now())
        except Exception:  # noqa: BLE001
            pass
    finally:
        with schedule.lock:
            schedule.running = False
