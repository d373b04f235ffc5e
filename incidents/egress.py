"""Where Firebreak may send a webhook: http(s) only, and never to this host or the
private network behind it (loopback, link-local, private, shared and reserved ranges), so
a webhook cannot be aimed at the metadata service or an internal admin page. Checked when
a webhook is saved (the host name resolved, when it resolves) and again when each message
goes: the address actually connected to is checked before a byte is sent, so a name that
resolves differently later (DNS rebinding) gains nothing. `WEBHOOK_ALLOW_PRIVATE=true`
lifts the address rule (a desk whose chat server is on its own network; the tests)."""

import http.client
import ipaddress
import socket
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

SCHEMES = ("http", "https")
NOT_HTTP = "Use an http:// or https:// address."
NO_HOST = "The address needs a host name."
PRIVATE = (
    "{host} is on this host or a private network ({address}); webhooks go to public addresses only "
    "(WEBHOOK_ALLOW_PRIVATE=true allows private ones)."
)


class RefusedAddress(Exception):
    """A webhook's host is (or now resolves to) an address Firebreak does not send to."""


def is_public(address):
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone never makes it public
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _addresses(host, port):
    try:
        return {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError):
        return set()


def check_url(url):
    """Refuse (ValidationError on `url`) what Firebreak would not send to. A host name that
    does not resolve now is kept: it is checked again on every delivery."""
    parts = urlsplit(url or "")
    if parts.scheme.lower() not in SCHEMES:
        raise ValidationError({"url": [NOT_HTTP]})
    if not parts.hostname:
        raise ValidationError({"url": [NO_HOST]})
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise ValidationError({"url": ["The port is not a number from 0 to 65535."]}) from None
    for address in sorted(_addresses(parts.hostname, port)):
        if not is_public(address):
            raise ValidationError({"url": [PRIVATE.format(host=parts.hostname, address=address)]})


def _checked_connection(host_and_port, *args, **kwargs):
    """socket.create_connection, then a look at whom it reached."""
    sock = socket.create_connection(host_and_port, *args, **kwargs)
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        address = sock.getpeername()[0]
        if not is_public(address):
            sock.close()
            raise RefusedAddress(PRIVATE.format(host=host_and_port[0], address=address))
    return sock


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _checked_connection


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _checked_connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, context=self._context)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a webhook is answered where it was sent: a redirect is an error


def post(url, *, body, headers, timeout):
    """POST `body` to `url` directly (no proxy, no redirects, no other scheme), refusing
    (RefusedAddress) an address Firebreak does not send to. Returns the HTTP status."""
    if urlsplit(url).scheme.lower() not in SCHEMES:
        raise RefusedAddress(NOT_HTTP)
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler({}), _HTTPHandler(), _HTTPSHandler(), _NoRedirects(),
        urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor(),
    ):  # fmt: skip
        opener.add_handler(handler)
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 - http(s) checked above
    with opener.open(request, timeout=timeout) as response:
        return response.status
