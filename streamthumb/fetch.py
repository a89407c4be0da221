"""Which URLs the server may read: hosts on a list, no private addresses unless listed, no
redirect to a host off the list, no file over a size limit.

A webhook says where the video is, and whoever can send a signed webhook could point the
worker at an internal address (the cloud metadata service, a database). ``check_source`` is
asked before FFmpeg opens anything: the scheme must be http or https, the host must be in
``allow_hosts``, and every address the name resolves to must be public unless the host itself
is listed as an IP address or is ``localhost``-like and listed. Redirects are followed here,
one hop at a time with each new host checked, and FFmpeg is given the final URL.

Example:
    >>> url = check_source("https://stream.mux.com/abc/highest.mp4", SourcePolicy(("stream.mux.com",)))
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from .errors import InputError

__all__ = ["SourcePolicy", "SourceRefused", "check_source"]

_MAX_HOPS = 5


class SourceRefused(InputError):
    """The URL is not one the server may read."""


@dataclass(frozen=True)
class SourcePolicy:
    """What the server may read."""

    allow_hosts: tuple[str, ...]
    """Host names (or IP addresses) that may be read; nothing else is contacted."""
    max_bytes: int | None = None
    """Largest file accepted, by its Content-Length; None for no limit."""
    timeout: float = 10.0
    """Seconds for each check request."""


def check_source(url: str, policy: SourcePolicy) -> str:
    """The URL to read, after following redirects to allowed hosts only.

    Raises:
        SourceRefused: another scheme, a host not allowed, a private address not listed, a
            redirect off the list, or a file over ``max_bytes``.
    """
    for _ in range(_MAX_HOPS):
        _check_host(url, policy)
        status, location, length = _head(url, policy.timeout)
        if location is None:
            if policy.max_bytes is not None and length is not None and length > policy.max_bytes:
                raise SourceRefused(f"{url}: {length} bytes is more than the {policy.max_bytes} allowed")
            if status >= 400:
                raise SourceRefused(f"{url}: the server answered {status}")
            return url
        url = urllib.parse.urljoin(url, location)
    raise SourceRefused(f"{url}: more than {_MAX_HOPS} redirects")


def _check_host(url: str, policy: SourcePolicy) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceRefused(f"{url}: only http and https URLs are read")
    host = parts.hostname.lower()
    allowed = {h.lower() for h in policy.allow_hosts}
    if host not in allowed:
        raise SourceRefused(f"{url}: host {host} is not allowed (--allow-host)")
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        raise SourceRefused(f"{url}: cannot resolve {host} ({exc})") from exc
    listed_ip = _is_ip(host)
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global and not listed_ip and host != "localhost":
            raise SourceRefused(f"{url}: {host} resolves to the private address {address}; list the address itself")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # handled by check_source, one checked hop at a time


def _head(url: str, timeout: float) -> tuple[int, str | None, int | None]:
    """(status, Location of a redirect, Content-Length) of a one-byte ranged GET."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers={"Range": "bytes=0-0", "User-Agent": "streamthumb"})
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, None, _length(response.headers)
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400 and exc.headers.get("Location"):
            return exc.code, exc.headers["Location"], None
        return exc.code, None, None
    except (urllib.error.URLError, OSError) as exc:
        raise SourceRefused(f"{url}: cannot connect ({getattr(exc, 'reason', exc)})") from exc


def _length(headers: object) -> int | None:
    """The whole file's size: from Content-Range of a ranged answer, else Content-Length."""
    get = getattr(headers, "get", lambda _: None)
    whole = (get("Content-Range") or "").rpartition("/")[2]
    value = whole if whole.isdigit() else get("Content-Length")
    return int(value) if value and str(value).isdigit() else None
