"""The SSRF guard: private, loopback, link-local, CGNAT, metadata and mapped addresses are refused
when an endpoint is saved (400 naming `url`) and again at delivery (DNS rebinding), where the
checked address is pinned for the connection. `WEBHOOK_ALLOW_PRIVATE_URLS` lifts the address rule."""

import ipaddress
import ssl
import subprocess
from pathlib import Path

import pytest

from alignment_service.notifications import delivery as http_delivery
from alignment_service.notifications import ssrf
from alignment_service.notifications.models import WebhookDelivery, WebhookEndpoint
from tests.notifications.support import PUBLIC_IP, Receiver, deliver, emit, start_server

pytestmark = pytest.mark.django_db

PRIVATE = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "10.255.1.2",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.1.1",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",  # noqa: S104
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fc00::1",
    "fd12:3456::1",
    "fd00:ec2::254",
    "fe80::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:db8::1",
]
PUBLIC = [PUBLIC_IP, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", PRIVATE)
def test_non_public_addresses_are_blocked(address):
    assert ssrf.is_blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert not ssrf.is_blocked(ipaddress.ip_address(address))


def url(org):
    return f"/api/v1/orgs/{org.slug}/webhooks/"


def assert_refused_url(response, code="unsafe_url"):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error"
    assert [(e["attr"], e["code"]) for e in body["errors"]] == [("url", code)]


SAVE_CASES = {
    "127.0.0.1": "127.0.0.1",
    "10.x": "10.1.2.3",
    "172.16.x": "172.16.5.4",
    "192.168.x": "192.168.0.10",
    "metadata": "169.254.169.254",
    "::1": "::1",
    "fc00::/7": "fd00::1",
    "fe80::": "fe80::1",
    "100.64.x": "100.64.1.1",
    "0.0.0.0": "0.0.0.0",  # noqa: S104
    "mapped": "::ffff:127.0.0.1",
}


@pytest.mark.parametrize("address", SAVE_CASES.values(), ids=SAVE_CASES.keys())
def test_a_host_resolving_to_a_private_address_is_refused_at_save(address, org, admin, client_for, fake_dns):
    fake_dns["internal.example.com"] = [address]
    response = client_for(admin).post(url(org), {"url": "https://internal.example.com/hook"}, format="json")
    assert_refused_url(response)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "literal",
    [
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[fc00::1]/",
        "http://[fe80::1]/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00:ec2::254]/",
    ],
)
def test_ip_literals_of_private_addresses_are_refused_at_save(literal, org, admin, client_for):
    response = client_for(admin).post(url(org), {"url": literal}, format="json")
    assert response.status_code == 400, response.content
    assert [e["attr"] for e in response.json()["errors"]] == ["url"]
    assert not WebhookEndpoint.objects.exists()


def test_one_private_address_among_public_ones_is_refused_at_save(org, admin, client_for, fake_dns):
    fake_dns["mixed.example.com"] = [PUBLIC_IP, "10.0.0.7"]
    response = client_for(admin).post(url(org), {"url": "https://mixed.example.com/"}, format="json")
    assert_refused_url(response)


def test_the_setting_allows_private_addresses(org, admin, client_for, fake_dns, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    fake_dns["internal.example.com"] = ["10.0.0.1"]
    client = client_for(admin)
    for target in ("https://internal.example.com/hook", "http://127.0.0.1:8080/", "http://[::ffff:127.0.0.1]/"):
        assert client.post(url(org), {"url": target}, format="json").status_code == 201


def test_a_public_host_is_accepted(org, admin, client_for):
    response = client_for(admin).post(url(org), {"url": "https://hooks.example.com/alignment"}, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ("ftp://hooks.example.com/file", "unsafe_url"),
        ("https://user:secret@hooks.example.com/", "unsafe_url"),
        ("https://nowhere.example.com/", "unsafe_url"),
        ("not a url", "invalid"),
    ],
    ids=["ftp", "credentials", "unresolvable", "garbage"],
)
def test_other_unusable_urls_are_refused(target, code, org, admin, client_for, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = target.startswith("ftp")  # the scheme rule holds even then
    assert_refused_url(client_for(admin).post(url(org), {"url": target}, format="json"), code)


def test_changing_the_url_to_a_private_one_is_refused(org, admin, client_for, make_endpoint, fake_dns):
    endpoint = make_endpoint()
    fake_dns["internal.example.com"] = ["192.168.0.2"]
    response = client_for(admin).patch(
        f"{url(org)}{endpoint.pk}/", {"url": "https://internal.example.com/"}, format="json"
    )
    assert_refused_url(response)
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/alignment"


def test_dns_rebinding_is_refused_at_delivery_and_nothing_connects(org, owner, client_for, receiver, fake_dns):
    """Public when saved, loopback when delivered: no connection is made."""
    created = client_for(owner).post(url(org), {"url": receiver.url_for("hooks.example.com")}, format="json")
    assert created.status_code == 201
    fake_dns["hooks.example.com"] = ["127.0.0.1"]
    emit(org)
    deliver()
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.attempts == 1
    assert delivery.last_error.startswith("Refused: hooks.example.com resolves only to non-public addresses")


def test_with_the_setting_the_connection_goes_to_the_resolved_address_with_the_original_host(
    org, make_endpoint, receiver, fake_dns, settings
):
    """Pinning: http.client never resolves `hooks.example.com` itself (real DNS would fail here)."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    fake_dns["hooks.example.com"] = ["127.0.0.1"]
    make_endpoint(receiver.url_for("hooks.example.com"))
    emit(org)
    fake_dns.lookups.clear()
    deliver()
    (request,) = receiver.requests
    assert request.headers["host"] == f"hooks.example.com:{receiver.port}"
    assert fake_dns.lookups == ["hooks.example.com"]
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_delivery_picks_an_allowed_address_from_a_mixed_answer(fake_dns):
    fake_dns["mixed.example.com"] = ["10.0.0.1", PUBLIC_IP, "127.0.0.1"]
    assert ssrf.pick_address("mixed.example.com", 443, allow_private=False) == PUBLIC_IP
    assert ssrf.pick_address("mixed.example.com", 443, allow_private=True) == "10.0.0.1"


def test_the_delivery_time_check_runs_without_the_save_time_one(fake_dns):
    """An endpoint written around the API (admin, shell, an old row) is still checked."""
    result = http_delivery.attempt(
        url="http://169.254.169.254/latest/meta-data/", secret="whsec_" + "A" * 44, event_id="evt_x",
        payload={}, now=http_delivery.datetime.now(http_delivery.UTC),
    )  # fmt: skip
    assert not result.succeeded
    assert result.error.startswith("Refused")


# --- https: the pinned connection still verifies the certificate for the host name ---------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(  # noqa: S603
        [  # noqa: S607
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(key),
            "-out", str(cert), "-subj", "/CN=hooks.example.com", "-addext", "subjectAltName=DNS:hooks.example.com",
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_receiver(certificate, monkeypatch):
    cert, key = certificate
    server_names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    state = Receiver(scheme="https")
    server = start_server(state, wrap=lambda sock: context.wrap_socket(sock, server_side=True))
    monkeypatch.setattr(http_delivery, "tls_context", lambda: ssl.create_default_context(cafile=str(cert)))
    yield state, server_names
    server.shutdown()
    server.server_close()


def test_https_is_pinned_with_sni_and_certificate_checked_for_the_host_name(
    org, make_endpoint, tls_receiver, fake_dns, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    state, server_names = tls_receiver
    fake_dns["hooks.example.com"] = ["127.0.0.1"]
    make_endpoint(state.url_for("hooks.example.com"))
    emit(org)
    deliver()
    assert WebhookDelivery.objects.get().status == "succeeded"
    assert server_names == ["hooks.example.com"]
    assert state.requests[0].headers["host"] == f"hooks.example.com:{state.port}"


def test_https_to_a_host_the_certificate_does_not_name_fails(org, make_endpoint, tls_receiver, fake_dns, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    state, _ = tls_receiver
    fake_dns["other.example.com"] = ["127.0.0.1"]
    make_endpoint(state.url_for("other.example.com"))
    emit(org)
    deliver()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.last_error.startswith("TLS error")
    assert state.requests == []
