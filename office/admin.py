"""Administration: accounts, keys, images, tokens, trust anchors, the audit trail. Every change
leaves an audit record ("admin_change"); an administrator acts as a caller of role ``admin``."""
from __future__ import annotations

from office.caller import Caller
from office.errors import BadInput


class AdminUseCases:
    def _change(self, caller: Caller, what: str, username: str | None = None, **detail) -> None:
        about = {"user": username} if username is not None else {}
        self._audit(caller, "admin_change", "ok", detail={"change": what, **about, **detail})

    def create_user(self, caller: Caller, username: str, *, display_name: str, role: str,
                    agency: str | None = None) -> tuple[dict, str]:
        """The account and its first API token (shown once)."""
        caller.require("admin")
        account = self.accounts.create(username, display_name=display_name, role=role, agency=agency)
        token = self.accounts.issue_token(username)
        self._change(caller, "create_user", username, role=role, agency=agency)
        return account.to_dict(), token

    def bind_token_key(self, caller: Caller, username: str, *, label: str) -> dict:
        """Bind the key and certificate labelled ``label`` on the service's token."""
        caller.require("admin")
        from signer.errors import KeyUnavailable

        if self._token is None:
            raise KeyUnavailable("no PKCS#11 token is configured (KYSO_PKCS11_MODULE, KYSO_PKCS11_TOKEN)")
        holder = self._token.key_holder(label)
        account = self.accounts.bind_key(username, kind="pkcs11", ref=label, certificate_sha256=holder.fingerprint)
        self._change(caller, "bind_key", username, kind="pkcs11", ref=label, certificate=holder.fingerprint)
        return account.to_dict()

    def bind_pkcs12(self, caller: Caller, username: str, *, data: bytes, passphrase: str) -> dict:
        """Keep a PKCS#12 file (encrypted, in the key store, never served), checked once with its
        owner's passphrase, which is not stored."""
        caller.require("admin")
        from signer import SoftwareKeyHolder

        holder = SoftwareKeyHolder.from_pkcs12(data, passphrase=passphrase)
        ref = self.keys.put(data, kind="pkcs12")
        account = self.accounts.bind_key(username, kind="pkcs12", ref=ref, certificate_sha256=holder.fingerprint)
        self._change(caller, "bind_key", username, kind="pkcs12", ref=ref, certificate=holder.fingerprint)
        return account.to_dict()

    def set_image(self, caller: Caller, username: str, *, png: bytes) -> dict:
        """An official's signature image or a clerk's seal (PNG, transparent), drawn and never served."""
        caller.require("admin")
        if not png.startswith(b"\x89PNG"):
            raise BadInput("the image must be a PNG", message_vi="Ảnh phải ở định dạng PNG.")
        ref = self.keys.put(png, kind="image")
        account = self.accounts.set_image(username, ref)
        self._change(caller, "set_image", username, image=ref)
        return account.to_dict()

    def rotate_token(self, caller: Caller, username: str) -> str:
        caller.require("admin")
        token = self.accounts.rotate_token(username)
        self._change(caller, "rotate_token", username)
        return token

    def disable_user(self, caller: Caller, username: str) -> None:
        caller.require("admin")
        self.accounts.disable(username)
        self._change(caller, "disable", username)

    def users(self, caller: Caller) -> list[dict]:
        caller.require("admin")
        return [a.to_dict() for a in self.accounts.list()]

    def trust_add(self, caller: Caller, pem_paths) -> list[tuple[str, str]]:
        """Add trust anchors for the vn profile (a restart takes them into signing)."""
        caller.require("admin")
        from verifier.trust import TrustStore, fingerprint, load_certificates

        store = TrustStore(self.settings.trust_dir)
        added = []
        for cert in load_certificates(list(pem_paths)):
            store.add(cert)
            self._change(caller, "trust_add", certificate=fingerprint(cert), subject=cert.subject.human_friendly)
            added.append((fingerprint(cert), cert.subject.human_friendly))
        return added

    def trust_remove(self, caller: Caller, sha256: str) -> bool:
        caller.require("admin")
        from verifier.trust import TrustStore

        removed = TrustStore(self.settings.trust_dir).remove(sha256)
        if removed:
            self._change(caller, "trust_remove", certificate=sha256.lower().replace(":", ""))
        return removed

    # the audit trail: office.auditing

    def audit_verify(self, caller: Caller, *, expected_at_least: int | None = None):
        """The chain of records, then the latest checkpoint of its head (a truncated trail fails)."""
        from office import auditing

        return auditing.verify(self, caller, expected_at_least=expected_at_least)

    def audit_export(self, caller: Caller, out, *, fmt: str) -> int:
        from office import auditing

        return auditing.export(self, caller, out, fmt=fmt)

    def audit_checkpoint(self, caller: Caller | None = None):
        """Write a checkpoint of the trail's head outside the database (``caller`` None: the service)."""
        from office import auditing

        return auditing.checkpoint(self, caller)
