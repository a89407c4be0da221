"""How the server reads a video URL: hosts on a list, no private address unless listed, no
redirect off the list, no more than a size limit, and nobody but streamthumb deciding where
to connect.

A webhook says where the video is, and whoever can send a signed webhook could point the
worker at an internal address (the cloud metadata service, a database). So FFmpeg never opens
the URL itself: it would resolve the name again (DNS rebinding) and follow redirects to any
host. ``open_source_url`` checks the URL (scheme http or https, host in ``allow_hosts``, every
address it resolves to public unless the host is listed as that address or is ``localhost``),
follows redirects one checked hop at a time, and returns a seekable file-like ``CheckedReader``
that sends every request, ranged, to the one address that was checked, never follows a
redirect, and ends the file at ``max_bytes``. PyAV reads it like a local file. What the server
reads is therefore a progressive file (MP4, MOV, MKV, WebM, MPEG-TS); HLS playlists, whose
segments FFmpeg would fetch on its own, are refused by the content check of the demuxer.

Example:
    >>> reader = open_source_url("https://stream.mux.com/abc/highest.mp4", SourcePolicy(("stream.mux.com",)))
    >>> container = av.open(reader)
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import urllib.parse
from dataclasses import dataclass

from .errors import InputError

__all__ = ["CheckedReader", "SourcePolicy", "SourceRefused", "open_source_url"]

_MAX_HOPS = 5


class SourceRefused(InputError):
    """The URL is not one the server may read."""


@dataclass(frozen=True)
class SourcePolicy:
    """What the server may read."""

    allow_hosts: tuple[str, ...]
    """Host names (or IP addresses) that may be read; nothing else is contacted."""
    max_bytes: int | None = None
    """Bytes read at most from one source; the file ends there. None for no limit."""
    timeout: float = 10.0
    """Seconds to connect, and for each read."""


@dataclass(frozen=True)
class _Target:
    """One checked URL: where to connect, and what to ask for."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    path: str


def open_source_url(url: str, policy: SourcePolicy) -> CheckedReader:
    """A reader of ``url``, after following redirects to allowed hosts only.

    Raises:
        SourceRefused: another scheme, a host not allowed, a private address not listed, a
            redirect off the list or without a Location, an error status, or no answer.
    """
    for _ in range(_MAX_HOPS):
        target = _check(url, policy)
        with _Response(target, 0, policy.timeout, last=0) as response:
            status, location, size = response.status, response.getheader("Location"), _size(response)
        if 300 <= status < 400:
            if not location:
                raise SourceRefused(f"{url}: a redirect ({status}) without a Location")
            url = urllib.parse.urljoin(url, location)
            continue
        if status >= 400:
            raise SourceRefused(f"{url}: the server answered {status}")
        return CheckedReader(target, size, policy)
    raise SourceRefused(f"{url}: more than {_MAX_HOPS} redirects")


class CheckedReader(io.RawIOBase):
    """A seekable, read-only view of one checked URL over ranged GETs to one address.

    Sequential reads stream one response; a seek starts a new ranged request, as FFmpeg does
    over HTTP. A redirect or an error status mid-file ends the file there.

    Args:
        target: The checked URL and address.
        size: The file's size, when the server said; seeking from the end needs it.
        policy: The byte limit and timeout.
    """

    def __init__(self, target: _Target, size: int | None, policy: SourcePolicy):
        super().__init__()
        self.name = target.url
        self._target, self._size, self._policy = target, size, policy
        self._pos = 0
        self._response: _Response | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            if self._size is None:
                raise OSError("the server did not say how large the file is")
            offset += self._size
        elif whence == io.SEEK_CUR:
            offset += self._pos
        if offset < 0:
            raise OSError(f"seek to {offset}")
        if offset != self._pos:
            self._drop()
            self._pos = offset
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        limit = self._limit()
        if self._pos >= limit:
            return 0
        if self._response is None:
            self._response = _Response(self._target, self._pos, self._policy.timeout)
            if self._response.status not in (200, 206) or (self._response.status == 200 and self._pos):
                self._drop()
                return 0  # a redirect or an error mid-file is the end of the file: never followed
        view = memoryview(buffer)[: min(len(buffer), limit - self._pos)]
        n = self._response.readinto(view)
        if not n:
            self._drop()
        self._pos += n
        return n

    def close(self) -> None:
        self._drop()
        super().close()

    def _limit(self) -> int:
        sizes = [s for s in (self._size, self._policy.max_bytes) if s is not None]
        return min(sizes) if sizes else 1 << 62

    def _drop(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None


class _Response:
    """One ranged GET to the checked address, with the URL's host name for Host and TLS."""

    def __init__(self, target: _Target, start: int, timeout: float, *, last: int | None = None):
        if target.scheme == "https":
            conn: http.client.HTTPConnection = _PinnedHTTPS(target.host, target.address, target.port, timeout)
        else:
            conn = _PinnedHTTP(target.host, target.address, target.port, timeout)
        self._conn = conn
        span = f"bytes={start}-{'' if last is None else last}"
        try:
            conn.request("GET", target.path, headers={"Range": span, "Accept-Encoding": "identity"})
            self._response = conn.getresponse()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            conn.close()
            raise SourceRefused(f"{target.url}: cannot read ({exc})") from exc
        self.status = self._response.status

    def getheader(self, name: str) -> str | None:
        return self._response.getheader(name)

    def readinto(self, view: memoryview) -> int:
        try:
            return self._response.readinto(view)
        except (OSError, http.client.HTTPException) as exc:
            raise OSError(f"reading stopped: {exc}") from exc

    def close(self) -> None:
        self._response.close()
        self._conn.close()

    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the checked address; the URL's name goes only into the Host header."""

    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """As ``_PinnedHTTP``, with TLS verified against the URL's host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _check(url: str, policy: SourcePolicy) -> _Target:
    """The URL's parts and the one address to use; refuse anything the policy does not allow."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise SourceRefused(f"{url}: not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceRefused(f"{url}: only http and https URLs are read")
    host = parts.hostname.lower()
    if host not in {h.lower() for h in policy.allow_hosts}:
        raise SourceRefused(f"{url}: host {host} is not allowed (--allow-host)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise SourceRefused(f"{url}: cannot resolve {host} ({exc})") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not (_is_ip(host) or host == "localhost"):
        private = [a for a in addresses if not ipaddress.ip_address(a).is_global]
        if private:
            raise SourceRefused(f"{url}: {host} resolves to the private address {private[0]}; list the address itself")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(url, parts.scheme, host, port, addresses[0], path)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _size(response: _Response) -> int | None:
    """The whole file's size: from a ranged answer's Content-Range, else its Content-Length."""
    whole = (response.getheader("Content-Range") or "").rpartition("/")[2]
    if whole.isdigit():
        return int(whole)
    length = response.getheader("Content-Length") or ""
    return int(length) if response.status == 200 and length.isdigit() else None
