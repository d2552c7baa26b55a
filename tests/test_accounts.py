"""Users, roles and API tokens (hashed, rotatable), on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from registers.accounts import AccountError, Accounts, UnknownUser, token_hash
from registers.models import ApiToken


def test_tokens_are_stored_hashed_and_rotate(db):
    accounts = Accounts(db)
    accounts.create("nva", display_name="Nguyễn Văn An", role="official", agency="UBND")
    token = accounts.issue_token("nva")
    assert accounts.authenticate(token).display_name == "Nguyễn Văn An"
    with db.session() as s:
        stored = [r.token_hash for r in s.query(ApiToken).all()]
    assert stored == [token_hash(token)] and token not in stored, "only the hash is kept"
    new = accounts.rotate_token("nva")
    assert accounts.authenticate(token) is None and accounts.authenticate(new).username == "nva"
    assert accounts.authenticate("kyso_guess") is None and accounts.authenticate(None) is None
    accounts.disable("nva")
    assert accounts.authenticate(new) is None


def test_roles_keys_and_images(db):
    accounts = Accounts(db)
    with pytest.raises(AccountError):
        accounts.create("x", display_name="X", role="superuser")
    with pytest.raises(AccountError):
        accounts.create("bad name!", display_name="X", role="clerk")
    accounts.create("vanthu", display_name="Lê Thị Văn Thư", role="clerk", agency="UBND")
    with pytest.raises(AccountError):
        accounts.create("vanthu", display_name="again", role="clerk")
    account = accounts.bind_key("vanthu", kind="pkcs11", ref="agency-ubnd-hung-yen", certificate_sha256="ab" * 32)
    assert (account.key_kind, account.key_ref) == ("pkcs11", "agency-ubnd-hung-yen")
    assert accounts.set_image("vanthu", "cd" * 32).image_sha256 == "cd" * 32
    with pytest.raises(UnknownUser):
        accounts.get("nobody")
    assert [a.username for a in accounts.list()] == ["vanthu"]
