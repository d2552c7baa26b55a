"""Settings are typed, read from KYSO_* variables, and fail fast on unknown or unsafe values."""
from __future__ import annotations

from pathlib import Path

import pytest

from kyso.errors import ConfigurationError
from kyso.settings import Settings

SAFE_PRODUCTION = {
    "KYSO_MODE": "production",
    "KYSO_SECRET_KEY": "x" * 40,
    "KYSO_PKCS11_TOKEN": "ubnd-hsm",
    "KYSO_PKCS11_PIN": "8-digits-at-least",
    "KYSO_TSA_URL": "http://tsa.example.vn/tsa",
    "KYSO_AUDIT_KEY": "6a77bed61ba45693c0b55701697f5837ae73ea014f3864961ec08a3c0b23d636",   # 32 random bytes
}


def test_defaults_are_the_embedded_dev_setup():
    settings = Settings.from_env({})
    assert settings.mode == "dev"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.dev_pki_url == "http://127.0.0.1:8080/dev-pki"
    assert settings.default_level == "B-T"


def test_host_and_port_from_environment_move_the_dev_pki_with_them():
    settings = Settings.from_env({"KYSO_HOST": "127.0.0.2", "KYSO_PORT": "9090", "KYSO_DATA_DIR": "/tmp/k"})
    assert settings.port == 9090 and settings.data_dir == Path("/tmp/k")
    assert settings.dev_pki_url == "http://127.0.0.2:9090/dev-pki"


@pytest.mark.parametrize("env, fragment", [
    ({"KYSO_PROT": "8080"}, "KYSO_PROT"),
    ({"KYSO_PORT": "http"}, "KYSO_PORT"),
    ({"KYSO_PORT": "70000"}, "KYSO_PORT"),
    ({"KYSO_MODE": "staging"}, "KYSO_MODE"),
    ({"KYSO_RSA_PADDING": "none"}, "KYSO_RSA_PADDING"),
    ({"KYSO_DEFAULT_LEVEL": "B-X"}, "KYSO_DEFAULT_LEVEL"),
    ({"KYSO_HOST": ""}, "KYSO_HOST"),
])
def test_unknown_or_malformed_values_fail_fast(env, fragment):
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(env)
    assert fragment in str(info.value)


def test_production_refuses_dev_material_and_default_secrets():
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({"KYSO_MODE": "production"})
    problems = " ".join(info.value.detail["problems"])
    for var in ("KYSO_SECRET_KEY", "KYSO_PKCS11_PIN", "KYSO_PKCS11_TOKEN", "KYSO_TSA_URL", "KYSO_AUDIT_KEY"):
        assert var in problems
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({**SAFE_PRODUCTION, "KYSO_DEV_PKI_URL": "http://127.0.0.1:8080/dev-pki"})
    assert "certs_dev" in str(info.value)
    with pytest.raises(ConfigurationError):
        Settings.from_env({**SAFE_PRODUCTION, "KYSO_REVOCATION_CHECK": "dangerous-skip"})
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({**SAFE_PRODUCTION, "KYSO_TRUST_PROFILE": "dev"})
    assert "KYSO_TRUST_PROFILE" in str(info.value)


def test_production_refuses_a_broker_or_object_store_reached_in_clear():
    """Nodes talk to the broker and the S3 store over the network: production refuses plain amqp://,
    redis:// and http:// there (passwords and documents in clear), and accepts them on this machine."""
    for name, value in (("KYSO_BROKER_URL", "amqp://kyso:secret@mq.internal:5672//"),
                        ("KYSO_BROKER_URL", "redis://:secret@10.0.0.7:6379/0"),
                        ("KYSO_S3_ENDPOINT_URL", "http://s3.internal:8333")):
        extra = {"KYSO_STORE_URL": "s3://kyso"} if name == "KYSO_S3_ENDPOINT_URL" else {}
        with pytest.raises(ConfigurationError) as info:
            Settings.from_env({**SAFE_PRODUCTION, **extra, name: value})
        assert name in str(info.value) and "in clear" in str(info.value)
    for name, value in (("KYSO_BROKER_URL", "amqps://kyso:secret@mq.internal:5671//"),
                        ("KYSO_BROKER_URL", "rediss://:secret@10.0.0.7:6380/0?ssl_cert_reqs=required"),
                        ("KYSO_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
                        ("KYSO_S3_ENDPOINT_URL", "https://s3.internal")):
        extra = {"KYSO_STORE_URL": "s3://kyso"} if name == "KYSO_S3_ENDPOINT_URL" else {}
        assert getattr(Settings.from_env({**SAFE_PRODUCTION, **extra, name: value}), name[5:].lower()) == value


def test_safe_production_settings_are_accepted():
    settings = Settings.from_env(SAFE_PRODUCTION)
    assert settings.is_production and not settings.uses_dev_pki
