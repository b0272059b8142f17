"""Image inputs for video generation: URLs, data URIs and local files, checked before money is spent.

Agents pass each image as a string. Local paths are the dangerous kind: an agent must not be able to
make the server read ~/.ssh/id_rsa or /etc/passwd and send it to a provider. So a path is resolved
with realpath (every symlink and `..` gone), must land inside one of the allowed folders, must be a
regular file under the size cap, and must be a real JPEG/PNG/WebP/GIF by its bytes, not its name.
Error messages say what is wrong and what is allowed, and never contain file contents.

URLs are passed on as URLs: the provider fetches them, this module never does.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import stat
from collections.abc import Awaitable, Callable, Collection, Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel

from providers.base import InvalidRequest

ImageFormat = Literal["jpeg", "png", "webp", "gif"]
ImageKind = Literal["url", "data", "path"]

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_URL_CHARS = 2048
# Decoded pixels, not file bytes, cost memory: a 186 kB PNG can hold 169 megapixels (~1 GB as RGBA).
# 40 megapixels (e.g. 7680x5200) is far above what any video model takes.
MAX_PIXELS = 40_000_000

MIME_BY_FORMAT: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}

# Said in every error about the form of an image, so the agent knows what to send instead.
ALLOWED_FORMS = (
    "an http(s) URL, a data URI (data:image/png;base64,...), or a local file path "
    "(absolute, relative, ~/..., or file:///...)"
)
ALLOWED_CONTENT = "JPEG, PNG, WebP or GIF"
ENV_HINT = "VIDEOGEN_ALLOWED_DIRS"

# A URI scheme; one letter is a Windows drive (C:\...), not a scheme.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_WHITESPACE = re.compile(r"\s+")


class ImageRef(BaseModel):
    """An image input after validation."""

    kind: ImageKind
    value: str  # the URL, the resolved absolute path, or the original data URI
    mime: str | None = None
    size_bytes: int | None = None


# -- helpers ---------------------------------------------------------------------------------------


def _shown(value: str, limit: int = 160) -> str:
    """The agent's own input, quoted and shortened: enough to recognise, never a wall of text."""
    text = value if len(value) <= limit else value[: limit - 3] + "..."
    return repr(text)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _too_big(what: str, size: int, max_bytes: int) -> InvalidRequest:
    return InvalidRequest(
        f"{what} is {_mb(size)}; images may be at most {_mb(max_bytes)}. Downscale or compress it "
        f"(JPEG usually helps) and try again."
    )


def _not_an_image(what: str) -> InvalidRequest:
    return InvalidRequest(f"{what} is not a {ALLOWED_CONTENT} image by its content; only those formats are accepted.")


def _too_many_pixels(what: str, size: tuple[int, int] | None, max_pixels: int) -> InvalidRequest:
    shown = f"is {size[0]}x{size[1]} pixels ({size[0] * size[1] / 1e6:.1f} megapixels)" if size else "is too large"
    return InvalidRequest(
        f"{what} {shown}; images may have at most {max_pixels / 1e6:g} megapixels. "
        f"Downscale it (4096 pixels on the long side is plenty for video) and try again."
    )


def _real_dirs(allowed_dirs: Sequence[Path | str]) -> list[Path]:
    return [Path(os.path.realpath(os.path.expanduser(os.fspath(d)))) for d in allowed_dirs]


def _inside(path: Path, dirs: Sequence[Path]) -> bool:
    # Path comparison by components: /allowed-evil is not inside /allowed.
    return any(path.is_relative_to(d) for d in dirs)


def _outside_error(value: str, real: Path, expanded: str, dirs: Sequence[Path], noun: str = "image") -> InvalidRequest:
    via = f" (resolves to '{real}')" if str(real) != expanded else ""
    if dirs:
        where = ", ".join(str(d) for d in dirs)
        return InvalidRequest(
            f"{noun} path {_shown(value)}{via} is outside the folders this server may read: {where}. "
            f"Copy the {noun} into one of them, or have the person running the server add its folder to "
            f"{ENV_HINT} (folders separated by '{os.pathsep}'; list these too to keep them) and restart it."
        )
    return InvalidRequest(
        f"{noun} path {_shown(value)}{via} cannot be read: this server may read no local folders; "
        f"set {ENV_HINT}, or pass the {noun} as an http(s) URL or a data URI."
    )


# -- classification and sniffing -----------------------------------------------------------------


def classify(value: str, noun: str = "image", forms: str = ALLOWED_FORMS) -> ImageKind:
    """Which form an image (or another input, `noun`, taking `forms`) string takes. Unknown schemes are refused
    rather than guessed at."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidRequest(f"{noun} is empty; pass {forms}.")
    match = _SCHEME.match(text)
    if not match:
        return "path"
    scheme = match.group(1).lower()
    if scheme in ("http", "https"):
        return "url"
    if scheme == "data":
        return "data"
    if scheme == "file":
        return "path"
    raise InvalidRequest(
        f"{noun} scheme '{scheme}:' is not supported; pass {forms}. "
        f"(A local file whose name contains ':' can be passed as ./name.)"
    )


def sniff(data: bytes) -> ImageFormat | None:
    """The image format by magic bytes; None when the bytes are none of ours."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, GIF or WebP header, read without Pillow; None for JPEG or a short header.

    Checked before Pillow sees the bytes: Pillow's WebP decoder allocates the whole canvas when opened.
    """
    fmt = sniff(data)
    if fmt == "png" and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if fmt == "gif" and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if fmt == "webp" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
            return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
        if chunk == b"VP8X":
            return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
        if chunk == b"VP8L" and data[20] == 0x2F:
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


# -- local files -----------------------------------------------------------------------------------


def _path_text(value: str, noun: str = "image") -> str:
    """The filesystem path named by a plain path or a file:// URL, with ~ expanded."""
    text = value.strip()
    if text[:5].lower() == "file:":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise InvalidRequest(
                f"file URL {_shown(text)} names another host ({parts.netloc}); only local files can be read: "
                f"use file:///absolute/path or a plain path."
            )
        if parts.query or parts.fragment:
            raise InvalidRequest(
                f"file URL {_shown(text)} has a ?query or #fragment; percent-encode '?' and '#' (%3F, %23) "
                f"or pass a plain path."
            )
        text = unquote(parts.path)
    if "\x00" in text:
        raise InvalidRequest(f"{noun} path contains a NUL character; pass a plain file path.")
    return os.path.expanduser(text)


def resolve_path(value: str | os.PathLike[str], allowed_dirs: Sequence[Path | str], noun: str = "image") -> Path:
    """The real path of a local image (or another input, `noun`), which must be a regular file inside an
    allowed folder.

    realpath removes every symlink and `..`, so a link inside an allowed folder that points at
    /etc/passwd resolves to /etc/passwd and is refused. Containment is checked before existence,
    so nothing is revealed about files outside the allowed folders.
    """
    raw = os.fspath(value)
    if classify(raw, noun) != "path":
        raise InvalidRequest(
            f"expected a local file path, got {_shown(raw.strip())}; URLs and data URIs are not paths."
        )
    expanded = os.path.abspath(_path_text(raw, noun))
    try:
        real = Path(os.path.realpath(expanded))
    except (OSError, ValueError) as e:
        raise InvalidRequest(f"{noun} path {_shown(raw)} cannot be resolved ({type(e).__name__}).") from None
    dirs = _real_dirs(allowed_dirs)
    if not _inside(real, dirs):
        raise _outside_error(raw, real, expanded, dirs, noun)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise InvalidRequest(
            f"{noun} file not found: {_shown(raw)} (looked at '{real}'). Pass an existing file inside "
            f"{', '.join(str(d) for d in dirs)}, or an http(s) URL (with the https:// prefix) or a data URI."
        ) from None
    except OSError as e:
        raise InvalidRequest(f"{noun} file {_shown(raw)} cannot be read ({e.strerror or type(e).__name__}).") from None
    if stat.S_ISDIR(st.st_mode):
        raise InvalidRequest(f"{noun} path {_shown(raw)} is a directory, not a file; pass the path of one {noun} file.")
    if not stat.S_ISREG(st.st_mode):
        raise InvalidRequest(f"{noun} path {_shown(raw)} is not a regular file; pass the path of one {noun} file.")
    return real


def _opened_path(fd: int) -> str | None:
    """Where an open file really is (Linux); catches a folder swapped for a symlink after the check."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def load_local(
    value: str | os.PathLike[str], allowed_dirs: Sequence[Path | str], max_bytes: int = MAX_IMAGE_BYTES
) -> tuple[bytes, str]:
    """Read a local image: (bytes, mime). Size is checked before reading; the type comes from the bytes."""
    raw = os.fspath(value)
    data = read_local(raw, allowed_dirs, max_bytes, lambda size: _too_big(f"image file {_shown(raw)}", size, max_bytes))
    fmt = sniff(data)
    if fmt is None:
        raise _not_an_image(f"image file {_shown(raw)}")
    return data, MIME_BY_FORMAT[fmt]


def read_local(
    raw: str,
    allowed_dirs: Sequence[Path | str],
    max_bytes: int,
    too_big: Callable[[int], InvalidRequest],
    noun: str = "image",
) -> bytes:
    """The bytes of a local file inside an allowed folder, at most `max_bytes` (else `too_big(size)`), read so
    that a file swapped for a link, a FIFO or a bigger file between the check and the read is refused."""
    real = resolve_path(raw, allowed_dirs, noun)
    shown = _shown(raw)
    try:
        size = os.stat(real).st_size
    except OSError as e:
        raise InvalidRequest(f"{noun} file {shown} cannot be read ({e.strerror or type(e).__name__}).") from None
    if size > max_bytes:
        raise too_big(size)
    # O_NOFOLLOW: the last component cannot have become a symlink since realpath; O_NONBLOCK: a FIFO
    # swapped in cannot hang us.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except OSError as e:
        raise InvalidRequest(f"{noun} file {shown} cannot be read ({e.strerror or type(e).__name__}).") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        opened = _opened_path(f.fileno())
        if not stat.S_ISREG(st.st_mode) or (opened is not None and not _inside(Path(opened), _real_dirs(allowed_dirs))):
            raise InvalidRequest(
                f"{noun} file {shown} changed while being read; pass a regular file in an allowed folder."
            )
        if st.st_size > max_bytes:
            raise too_big(st.st_size)
        data = f.read(max_bytes + 1)  # +1: notice a file that grew past the cap
    if len(data) > max_bytes:
        raise too_big(len(data))
    return data


# -- data URIs -------------------------------------------------------------------------------------


def _encoded_cap(max_bytes: int) -> int:
    return 4 * ((max_bytes + 2) // 3)


def decode_data_uri(uri: str, max_bytes: int = MAX_IMAGE_BYTES) -> tuple[bytes, str]:
    """Decode `data:image/<type>;base64,<payload>`: (bytes, sniffed mime). Only base64 image payloads."""
    form = "data:image/png;base64,<base64> (or image/jpeg, image/webp, image/gif)"
    data = data_uri_payload(uri, "image", form, max_bytes, lambda size: _too_big("data URI image", size, max_bytes))
    fmt = sniff(data)
    if fmt is None:
        raise _not_an_image("data URI payload")
    return data, MIME_BY_FORMAT[fmt]


def data_uri_payload(uri: str, kind: str, form: str, max_bytes: int, too_big: Callable[[int], InvalidRequest]) -> bytes:
    """The bytes of `data:<kind>/<type>;base64,<payload>` (images and videos alike), or a clear refusal naming
    `form`; `too_big(size)` words a payload over `max_bytes`. The content is the caller's to sniff."""
    text = uri.strip() if isinstance(uri, str) else ""
    if text[:5].lower() != "data:":
        raise InvalidRequest(f"expected a data URI of the form {form}.")
    header, comma, payload = text[5:].partition(",")
    if not comma:
        raise InvalidRequest(f"data URI has no ',' before its payload; use {form}.")
    params = [p.strip().lower() for p in header.split(";")]
    mime = params[0]
    if not mime.startswith(f"{kind}/"):
        article = "an" if kind[0] in "aeiou" else "a"
        raise InvalidRequest(f"data URI declares {_shown(mime or 'no type', 40)}, not {article} {kind}; use {form}.")
    if params[-1] != "base64" or len(params) < 2:
        raise InvalidRequest(f"data URI is not base64-encoded (missing ';base64'); use {form}.")
    cap = _encoded_cap(max_bytes)
    # Cheap first: a huge string is refused before any copying or decoding (slack allows line breaks).
    if len(payload) > cap + cap // 38 + 16:
        raise too_big(len(payload) * 3 // 4)
    payload = _WHITESPACE.sub("", payload)
    if len(payload) > cap:
        raise too_big(len(payload) * 3 // 4)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(
            f"data URI payload is not valid base64 (standard alphabet A-Z a-z 0-9 + /, '=' padding); use {form}."
        ) from None
    if len(data) > max_bytes:
        raise too_big(len(data))
    return data


# -- URLs ------------------------------------------------------------------------------------------


def check_url(url: str, noun: str = "image", schemes: Sequence[str] = ("http", "https")) -> str:
    """A URL in one of `schemes` (lower case; http or https by default) with a host, no credentials and at most
    2048 characters; returned stripped. The errors state the rule with those schemes."""
    text = url.strip() if isinstance(url, str) else ""
    allowed = " or ".join(f"{s}://" for s in schemes)
    rule = (
        f"{noun} URLs must be {allowed}, have a host, carry no user:password@, "
        f"and be at most {MAX_URL_CHARS} characters"
    )
    if len(text) > MAX_URL_CHARS:
        raise InvalidRequest(f"{noun} URL is {len(text)} characters; {rule}. Host the {noun} elsewhere or pass a file.")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in text):
        raise InvalidRequest(
            f"{noun} URL {_shown(text)} contains spaces or control characters; percent-encode them ({rule})."
        )
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise InvalidRequest(f"{noun} URL {_shown(text)} is malformed; {rule}.") from None
    if parts.scheme.lower() not in schemes:
        raise InvalidRequest(f"{noun} URL {_shown(text)} has scheme '{parts.scheme}:'; {rule}.")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise InvalidRequest(f"{noun} URL contains credentials (user:password@); {rule}.")
    if not parts.hostname:
        raise InvalidRequest(f"{noun} URL {_shown(text)} has no host; {rule}.")
    return text


# -- request-time validation -------------------------------------------------------------------------


def validate_image(value: str, allowed_dirs: Sequence[Path | str], max_bytes: int = MAX_IMAGE_BYTES) -> ImageRef:
    """Check an image input fully, as the request arrives: files are read and sniffed, data decoded."""
    kind = classify(value)
    text = value.strip()
    if kind == "url":
        return ImageRef(kind="url", value=check_url(text))
    if kind == "data":
        data, mime = decode_data_uri(text, max_bytes)
        check_pixels(data, "data URI image")
        return ImageRef(kind="data", value=text, mime=mime, size_bytes=len(data))
    real = resolve_path(text, allowed_dirs)
    data, mime = load_local(str(real), allowed_dirs, max_bytes)
    check_pixels(data, f"image file {_shown(text)}")
    return ImageRef(kind="path", value=str(real), mime=mime, size_bytes=len(data))


# -- conversions for adapters ---------------------------------------------------------------------


def to_bytes(value: str, allowed_dirs: Sequence[Path | str], max_bytes: int = MAX_IMAGE_BYTES) -> tuple[bytes, str]:
    """(bytes, mime) of a path or data URI. URLs are refused: this module never fetches (see to_bytes_async)."""
    kind = classify(value)
    if kind == "data":
        return decode_data_uri(value, max_bytes)
    if kind == "path":
        return load_local(value.strip(), allowed_dirs, max_bytes)
    raise InvalidRequest(
        "this provider needs the image itself, not a URL; pass a local file path or a data URI "
        "(data:image/png;base64,...) instead."
    )


Fetcher = Callable[[str, int], Awaitable[bytes]]


async def to_bytes_async(
    value: str, allowed_dirs: Sequence[Path | str], fetch: Fetcher | None = None, max_bytes: int = MAX_IMAGE_BYTES
) -> tuple[bytes, str]:
    """Like to_bytes, but a URL is fetched with the caller's `fetch(url, max_bytes)` when one is given.

    The fetcher owns network safety (redirect limits, refusing private addresses); the result is
    still capped and must be a real image.
    """
    if fetch is None or classify(value) != "url":
        return to_bytes(value, allowed_dirs, max_bytes)
    url = check_url(value)
    data = await fetch(url, max_bytes)
    if len(data) > max_bytes:
        raise _too_big(f"image at {_shown(url)}", len(data), max_bytes)
    fmt = sniff(data)
    if fmt is None:
        raise _not_an_image(f"image at {_shown(url)}")
    return data, MIME_BY_FORMAT[fmt]


def to_data_uri(value: str, allowed_dirs: Sequence[Path | str], max_bytes: int = MAX_IMAGE_BYTES) -> str:
    """A normalised data URI for a path or data URI. A URL is returned unchanged (checked), not fetched."""
    if classify(value) == "url":
        return check_url(value)
    return data_uri(*to_bytes(value, allowed_dirs, max_bytes))


def data_uri(data: bytes, mime: str) -> str:
    """`data:<mime>;base64,<data>` for bytes already checked (or re-encoded) by the caller."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# -- Pillow ----------------------------------------------------------------------------------------


def data_uri_under(data: bytes, mime: str, limit: int, accepted: Collection[str]) -> str | None:
    """The image as a data URI of fewer than `limit` characters: as it is when its type is `accepted`, else as
    PNG; then as JPEG, at 2048 and 1280 px if need be. None: not even a 1280 px JPEG fits."""
    if mime not in accepted:
        data, mime = reencode(data, "png"), "image/png"
    uri = data_uri(data, mime)
    for max_side in (None, 2048, 1280):
        if len(uri) < limit:
            return uri
        uri = data_uri(reencode(data, "jpeg", max_side), "image/jpeg")
    return uri if len(uri) < limit else None


def _open_lazily(data: bytes, what: str, max_pixels: int):  # -> PIL.Image.Image, header read, nothing decoded
    from PIL import Image

    size = header_size(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise _too_many_pixels(what, size, max_pixels)
    try:
        img = Image.open(io.BytesIO(data))  # lazy: reads the header (JPEG: its markers), decodes nothing
    except Image.DecompressionBombError:
        raise _too_many_pixels(what, None, max_pixels) from None
    except Exception:
        raise InvalidRequest(f"{what} cannot be decoded; pass a valid {ALLOWED_CONTENT} file.") from None
    if img.size[0] * img.size[1] > max_pixels:  # Pillow's own reading of the header is the one that decodes
        img.close()
        raise _too_many_pixels(what, img.size, max_pixels)
    return img


def check_pixels(data: bytes, what: str = "image", max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) of an image, refused with INVALID_INPUT when its decoded pixels would pass the cap.

    Only headers are read, so a tiny file claiming a huge canvas costs nothing to refuse.
    """
    with _open_lazily(data, what, max_pixels) as img:
        return img.size


def open_image(data: bytes, what: str = "image", max_pixels: int = MAX_PIXELS):  # -> PIL.Image.Image
    """The image decoded, after its size has been checked against the pixel cap."""
    from PIL import Image

    img = _open_lazily(data, what, max_pixels)
    try:
        img.load()
    except Image.DecompressionBombError:
        raise _too_many_pixels(what, None, max_pixels) from None
    except Exception:
        raise InvalidRequest(f"{what} cannot be decoded; pass a valid {ALLOWED_CONTENT} file.") from None
    return img


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) in stored pixels (EXIF rotation not applied), for min-side and aspect checks."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:  # header only: no full decode needed
            return img.size
    except Image.DecompressionBombError:
        raise InvalidRequest("image has too many pixels to process safely; downscale it and try again.") from None
    except Exception:
        raise InvalidRequest(f"image cannot be decoded; pass a valid {ALLOWED_CONTENT} file.") from None


def reencode(data: bytes, fmt: ImageFormat, max_side: int | None = None) -> bytes:
    """Re-encode as `fmt` (first frame of an animation), upright, at most `max_side` px on the long side.

    For providers that accept only some formats. Metadata (EXIF, GPS) is dropped, so orientation
    is applied to the pixels first.
    """
    from PIL import Image, ImageOps

    if fmt not in MIME_BY_FORMAT:
        raise InvalidRequest(f"cannot re-encode as {fmt!r}; formats are jpeg, png, webp, gif.")
    img = open_image(data)
    img.seek(0)
    img = ImageOps.exif_transpose(img) or img
    if max_side is not None and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if fmt == "jpeg":
        if has_alpha:
            # JPEG has no alpha: flatten onto white, which is what viewers show for transparent areas.
            rgba = img.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            img = background
        elif img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
    elif fmt in ("png", "webp"):
        if img.mode not in ("RGB", "RGBA", "L", "LA") and not (fmt == "png" and img.mode == "P"):
            img = img.convert("RGBA" if has_alpha else "RGB")
    out = io.BytesIO()
    options: dict[str, object] = {"quality": 90} if fmt in ("jpeg", "webp") else {}
    img.save(out, format=fmt.upper(), **options)
    return out.getvalue()
