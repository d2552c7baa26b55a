"""Signature field names a user may type: a dot (pyHanko's field-path separator), Vietnamese letters,
a very long name: a clear 4xx or a signature, never a 500."""
from __future__ import annotations

import io

import pytest

from kyso.samples import make_pdf
from office.compose import dev_token


@pytest.mark.parametrize("field, statuses", [
    ("Chu.Ky", {422}),
    ("Chữ ký số của Chủ tịch", {200}),
    ("x" * 101, {422}),
])
def test_field_names_at_sign(client, field, statuses):
    response = client.post("/api/v1/sign", data={"file": (io.BytesIO(make_pdf()), "a.pdf"), "field": field,
                                                 "level": "B-B"},
                           headers={"Authorization": f"Bearer {dev_token('nguyen-van-an')}"},
                           content_type="multipart/form-data")
    assert response.status_code in statuses, response.get_data(as_text=True)[:300]
    if response.status_code != 200:
        assert response.get_json()["error"]["code"]
