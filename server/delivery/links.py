"""Signed, expiring download links: `<base>/files/<relpath>?exp=<epoch>&sig=<hex>`.

The signature is HMAC-SHA256 over the file's path relative to the output folder and the expiry, under a key
kept in the data folder (`link.key`, 32 random bytes, mode 0600, made on first start). A link is a
credential for one file until it expires: /files/ sits outside the bearer-token guard, so whoever holds the
link (a browser, a player in a chat) can fetch the file without the server's token, and nothing else.
Deleting link.key revokes every link ever given out.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from server.settings import SettingsError

log = logging.getLogger(__name__)

PREFIX = "/files/"
KEY_FILE = "link.key"
KEY_BYTES = 32
DEFAULT_TTL_SECONDS = 86400.0
# What a signature covers is named, so a MAC made for something else under the same key never verifies here.
_PURPOSE = b"videogen files v1\x00"
_EXP = re.compile(r"[0-9]{1,12}")
_SIG = re.compile(r"[0-9a-f]{64}")


class LinkKeyError(SettingsError):
    """The key file exists but cannot be used (wrong length): a start-up error saying what to do."""


def load_or_create_key(path: Path) -> bytes:
    """The signing key at `path`, created (0600, atomically, race-safe between processes) when missing."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temp, path)  # fails if another process made one first: then theirs is the key
        except FileExistsError:
            pass
    finally:
        temp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise LinkKeyError(
            f"{path} holds {len(key)} bytes, not a {KEY_BYTES}-byte link key; delete it and start again "
            "(a new key is made, and links given out before stop working)"
        )
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, 0o600)  # others could read it: anyone with the key can sign links to any video
        log.warning("%s was readable by others (mode %o); made it 0600", path, mode)
    return key


class LinkSigner:
    """Makes and checks signed /files/ links. `ttl`: seconds a new link stays valid."""

    def __init__(self, key: bytes, ttl: float = DEFAULT_TTL_SECONDS):
        if len(key) < 16:
            raise ValueError("a link key must be at least 16 bytes")
        if not (math.isfinite(ttl) and ttl > 0):
            raise ValueError(f"link ttl must be a positive number of seconds, not {ttl!r}")
        self._key = key
        self.ttl = ttl

    def __repr__(self) -> str:  # never the key
        return f"LinkSigner(ttl={self.ttl:g})"

    @classmethod
    def from_data_dir(cls, data_dir: Path, ttl: float = DEFAULT_TTL_SECONDS) -> LinkSigner:
        return cls(load_or_create_key(Path(data_dir) / KEY_FILE), ttl)

    def signature(self, relpath: str, exp: int) -> str:
        message = _PURPOSE + relpath.encode("utf-8", "surrogateescape") + b"\x00" + str(exp).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def expiry(self, ttl: float | None = None, now: float | None = None) -> int:
        """The epoch second a link made now with `ttl` (default: the signer's) expires."""
        return math.ceil((time.time() if now is None else now) + (self.ttl if ttl is None else ttl))

    def url(self, relpath: str, base_url: str, ttl: float | None = None) -> str:
        """`<base_url>/files/<quoted relpath>?exp=<epoch>&sig=<hex>`; relpath is relative to the output folder,
        with / between parts."""
        exp = self.expiry(ttl)
        return f"{base_url.rstrip('/')}{PREFIX}{quote(relpath, safe='/')}?exp={exp}&sig={self.signature(relpath, exp)}"

    def verify(self, relpath: str, exp: str, sig: str, now: float | None = None) -> bool:
        """Whether `sig` signs (relpath, exp) under this key and `exp` is still ahead. Constant-time compare."""
        if not isinstance(exp, str) or not isinstance(sig, str) or not _EXP.fullmatch(exp):
            return False
        expected = self.signature(relpath, int(exp))
        matches = hmac.compare_digest(expected, sig.lower() if _SIG.fullmatch(sig.lower()) else "")
        return matches and int(exp) > (time.time() if now is None else now)


def relative_path(path: str | Path, output_dir: Path) -> str | None:
    """`path` relative to the output folder with / between parts, or None when it lies outside it."""
    try:
        return Path(path).resolve().relative_to(Path(output_dir).resolve()).as_posix()
    except (ValueError, OSError):
        return None


def origin(url: str) -> str:
    """scheme://host[:port] of a URL: what a Content-Security-Policy names."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Links:
    """The links one HTTP server hands out. Made when its HTTP app is built (server.transport.http_app), so a
    server under stdio has none. `base_url`: VIDEOGEN_PUBLIC_URL, else the address it serves on; None when
    it serves on every interface (0.0.0.0), where each request's own Host (checked against the allowed hosts
    before any tool runs) says how that client reaches it."""

    def __init__(self, signer: LinkSigner, output_dir: Path, base_url: str | None):
        self.signer = signer
        self.output_dir = Path(output_dir).resolve()
        self.base_url = base_url.rstrip("/") if base_url else None

    def base_for(self, scheme: str, host: str | None) -> str | None:
        if self.base_url:
            return self.base_url
        return f"{scheme}://{host}" if host and scheme in ("http", "https") else None

    def url(self, path: str | None, base: str) -> str | None:
        """A fresh signed link to the file at `path`, or None when it is not a file inside the output folder."""
        if not path:
            return None
        relpath = relative_path(path, self.output_dir)
        if relpath is None or not Path(path).is_file():
            return None
        return self.signer.url(relpath, base)
