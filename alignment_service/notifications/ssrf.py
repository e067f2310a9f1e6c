"""Keeping webhook deliveries away from the service's own network (server-side request forgery).

A URL is checked twice: when an endpoint is saved (`check_url`: scheme, no credentials, and every
address its host resolves to must be public) and again at every delivery (`pick_address`),
because DNS can change in between (rebinding). Delivery then connects to the address picked
here, never resolving the name a second time. `settings.WEBHOOK_ALLOW_PRIVATE_URLS` lifts the
address rules (not the scheme and credential rules) for development.

Tests replace `resolve_host` with a fake resolver instead of touching DNS.
"""

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})

#: Cloud metadata services, refused even if a future Python stops calling them private.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, DigitalOcean
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    }
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
TEREDO = ipaddress.ip_network("2001::/32")


class UnsafeURL(Exception):
    """The URL may not be called; `str(exc)` is a sentence fit for an API error or a delivery log."""


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv6 address carries (mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in prefix for prefix in NAT64_PREFIXES):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_blocked(address: IPAddress) -> bool:
    """True for every address a webhook may not reach: anything that is not plainly public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return True
        if address in TEREDO:
            return True
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_blocked(embedded)
    return (
        address in METADATA_ADDRESSES
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv4Address) and address in CGNAT)
        or not address.is_global
    )


def parse(url: str) -> tuple[SplitResult, str, int]:
    """The split URL, its host (without brackets) and port; refuses schemes and credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("The URL is not valid.") from None
    if parts.scheme not in ALLOWED_SCHEMES:
        raise UnsafeURL("Only http and https URLs are allowed.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("URLs may not carry credentials (user:password@); put a token in the path instead.")
    if not parts.hostname:
        raise UnsafeURL("The URL needs a host.")
    return parts, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        resolved = resolve_host(host, port)
    except (OSError, UnicodeError):
        raise UnsafeURL(f"The host {host} does not resolve.") from None
    addresses = []
    for text in resolved:
        try:
            addresses.append(ipaddress.ip_address(text))
        except ValueError:
            continue
    if not addresses:
        raise UnsafeURL(f"The host {host} does not resolve.")
    return addresses


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that a webhook endpoint may not have (at save time)."""
    _, host, port = parse(url)
    if allow_private:
        return
    if any(is_blocked(address) for address in _addresses(host, port)):
        raise UnsafeURL("The URL points at a private, loopback, link-local or otherwise non-public address.")


def pick_address(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to for one delivery: resolved now, and the first allowed one."""
    addresses = _addresses(host, port)
    for address in addresses:
        if allow_private or not is_blocked(address):
            return str(address)
    raise UnsafeURL(f"Refused: {host} resolves only to non-public addresses ({', '.join(map(str, addresses))}).")
