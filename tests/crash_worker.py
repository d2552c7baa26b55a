"""A use case run in a child process that kills itself (SIGKILL) at one step (tests/test_crash.py).

    python tests/crash_worker.py DATA_DIR DEV_PKI_URL STEP sign|issue INPUT_PDF

STEP: ``reserved`` (issue: after the number is reserved), ``stored`` (after the signed file is in the
store), ``audited`` (after the audit record is written, before the transaction commits), ``none``.
The kill is installed by wrapping the registers' own methods here, in the test's child process:
nothing in the service knows about it.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    data_dir, pki_url, step, action, source = sys.argv[1:6]
    from kyso.settings import Settings
    from office import Office
    from registers.audit import AuditTrail
    from registers.blobstore import BlobStore
    from registers.numbering import DatabaseNumbering

    def die(*_args, **_kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    def after(cls, name, when):
        original = getattr(cls, name)

        def wrapped(self, *args, **kwargs):
            result = original(self, *args, **kwargs)
            if when(result):
                die()
            return result
        setattr(cls, name, wrapped)

    settings = Settings.from_env({**{k: v for k, v in os.environ.items() if k.startswith("KYSO_")},
                                  "KYSO_DATA_DIR": data_dir, "KYSO_DEV_PKI_URL": pki_url})
    office = Office.from_settings(settings)
    if step == "reserved":
        after(DatabaseNumbering, "allocate", lambda r: True)
    elif step == "stored":
        after(BlobStore, "put", lambda r: True)
    elif step == "audited":
        after(AuditTrail, "append", lambda r: action in ("sign", "issue"))
    data = Path(source).read_bytes()
    if action == "sign":
        office.sign(office.caller("nguyen-van-an"), data, level="B-B")
    else:
        office.issue(office.caller("agency-ubnd-hung-yen"), data, doc_type="QĐ", level="B-B")
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
