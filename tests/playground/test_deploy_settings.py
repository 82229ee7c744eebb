"""HTTPS deployment settings from the environment: `check --deploy` is clean in a production
configuration, and the defaults keep plain http://localhost working."""

import os
import secrets
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from playground import env
from tests.conftest import ROOT

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "playground.example.com",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_PRELOAD": "1",
    "DJANGO_SECURE_SSL_REDIRECT": "1",
}


def check_deploy(environment: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "PLAYGROUND_")) and k not in ("REDIS_URL",
                                                                         "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env={**base, "DJANGO_SETTINGS_MODULE": "playground.settings", **environment},
        capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_in_a_production_configuration():
    result = check_deploy({**PRODUCTION, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_with_the_defaults_it_still_runs_locally_and_check_deploy_names_what_to_set():
    result = check_deploy({"DJANGO_DEBUG": "1"})
    output = result.stdout + result.stderr
    assert result.returncode == 1  # warnings, not a crash: the local configuration loads
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output
    assert "Traceback" not in output


def test_the_defaults_are_plain_http():
    assert env.hsts({}) == (0, False, False)
    assert env.flag({}, "DJANGO_SECURE_SSL_REDIRECT", False) is False
    assert env.proxy_ssl_header({}) is None
    assert env.origin_list({}, "DJANGO_CSRF_TRUSTED_ORIGINS") == []


def test_hsts_includes_subdomains_once_on_and_preload_is_asked_for():
    assert env.hsts({"DJANGO_SECURE_HSTS_SECONDS": "3600"}) == (3600, True, False)
    assert env.hsts({"DJANGO_SECURE_HSTS_SECONDS": "31536000",
                     "DJANGO_SECURE_HSTS_PRELOAD": "yes"}) == (31536000, True, True)
    assert env.hsts({"DJANGO_SECURE_HSTS_SECONDS": "3600",
                     "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "0"}) == (3600, False, False)


@pytest.mark.parametrize(("environment", "message"), [
    ({"DJANGO_SECURE_HSTS_SECONDS": "3600", "DJANGO_SECURE_HSTS_PRELOAD": "1"},
     "DJANGO_SECURE_HSTS_SECONDS >= 31536000 (it is 3600)"),
    ({"DJANGO_SECURE_HSTS_SECONDS": "31536000", "DJANGO_SECURE_HSTS_PRELOAD": "1",
      "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "off"}, "INCLUDE_SUBDOMAINS on (it is off)"),
    ({"DJANGO_SECURE_HSTS_SECONDS": "a year"}, "DJANGO_SECURE_HSTS_SECONDS must be a whole"),
    ({"DJANGO_SECURE_HSTS_SECONDS": "-1"}, "DJANGO_SECURE_HSTS_SECONDS must be between 0"),
    ({"DJANGO_SECURE_HSTS_PRELOAD": "maybe"}, "DJANGO_SECURE_HSTS_PRELOAD must be a boolean"),
])
def test_bad_hsts_settings_are_refused_by_name(environment, message):
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(").replace(")", r"\)")):
        env.hsts(environment)


def test_the_proxy_ssl_header_is_opt_in():
    assert env.proxy_ssl_header({"DJANGO_SECURE_PROXY_SSL_HEADER": "off"}) is None
    assert env.proxy_ssl_header({"DJANGO_SECURE_PROXY_SSL_HEADER": "1"}) == (
        "HTTP_X_FORWARDED_PROTO", "https")
    assert env.proxy_ssl_header({"DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Ssl: on"}) == (
        "HTTP_X_FORWARDED_SSL", "on")
    for bad in ("X Forwarded: https", ": https", "X-Forwarded-Proto:", "sometimes"):
        with pytest.raises(ImproperlyConfigured, match="DJANGO_SECURE_PROXY_SSL_HEADER"):
            env.proxy_ssl_header({"DJANGO_SECURE_PROXY_SSL_HEADER": bad})


def test_csrf_trusted_origins_need_their_scheme():
    assert env.origin_list({"X": "https://a.example, http://b.example:8000"}, "X") == [
        "https://a.example", "http://b.example:8000"]
    for bad in ("a.example", "ftp://a.example", "https://a.example/path", "https://"):
        with pytest.raises(ImproperlyConfigured, match=f"X must list origins.*{bad}"):
            env.origin_list({"X": bad}, "X")


@pytest.mark.django_db
def test_https_redirect_hsts_and_the_health_probe_exemption(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, \
        settings.SECURE_HSTS_PRELOAD = env.hsts({"DJANGO_SECURE_HSTS_SECONDS": "31536000",
                                                 "DJANGO_SECURE_HSTS_PRELOAD": "1"})
    settings.SECURE_PROXY_SSL_HEADER = env.proxy_ssl_header(
        {"DJANGO_SECURE_PROXY_SSL_HEADER": "1"})
    client = Client()
    plain = client.get("/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/"
    # The proxy says the visitor came over HTTPS: served, with HSTS.
    served = client.get("/", HTTP_X_FORWARDED_PROTO="https")
    assert served.status_code == 200
    assert served["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    # A load balancer's plain-HTTP health probe is answered, not redirected.
    assert client.get("/healthz").status_code == 200
