"""Image inputs: classification, local-file confinement, data URIs, URLs and Pillow conversions."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from PIL import Image

from providers import images
from providers.base import ErrorCode, InvalidRequest
from providers.images import (
    MAX_IMAGE_BYTES,
    ImageRef,
    check_url,
    classify,
    decode_data_uri,
    image_size,
    load_local,
    reencode,
    resolve_path,
    sniff,
    to_bytes,
    to_bytes_async,
    to_data_uri,
    validate_image,
)

SECRET = "TOP-SECRET-KEY-MATERIAL-1234"


def make_image(fmt: str = "PNG", size: tuple[int, int] = (32, 20), mode: str = "RGB") -> bytes:
    color = (200, 30, 60, 128) if mode == "RGBA" else (200, 30, 60)
    img = Image.new(mode, size, color)
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def refused(fn, *args, **kwargs) -> str:
    """Call fn expecting InvalidRequest; return its message (which must never leak the secret)."""
    with pytest.raises(InvalidRequest) as info:
        fn(*args, **kwargs)
    err = info.value
    assert err.code is ErrorCode.INVALID_INPUT and not err.retryable
    assert SECRET not in err.message
    return err.message


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    d = tmp_path / "allowed"
    d.mkdir()
    return d


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A secret file outside the allowed folder."""
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    return secret


# -- classify / sniff ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("https://example.com/a.png", "url"),
        ("http://example.com/a.png", "url"),
        ("  HTTPS://example.com/a.png \n", "url"),
        ("data:image/png;base64,AAAA", "data"),
        ("DATA:image/png;base64,AAAA", "data"),
        ("file:///tmp/a.png", "path"),
        ("/tmp/a.png", "path"),
        ("a.png", "path"),
        ("./dir/a.png", "path"),
        ("~/a.png", "path"),
        ("C:\\pics\\a.png", "path"),
        ("./odd:name.png", "path"),
    ],
)
def test_classify(value: str, kind: str) -> None:
    assert classify(value) == kind


@pytest.mark.parametrize(
    "value",
    ["ftp://example.com/a.png", "javascript:alert(1)", "gopher://x/", "s3://bucket/a.png", "localhost:8080/a.png"],
)
def test_classify_refuses_other_schemes(value: str) -> None:
    msg = refused(classify, value)
    assert "not supported" in msg
    assert "http(s) URL" in msg and "data URI" in msg and "local file path" in msg


@pytest.mark.parametrize("value", ["", "   ", "\n\t"])
def test_classify_refuses_empty(value: str) -> None:
    msg = refused(classify, value)
    assert "empty" in msg and "http(s) URL" in msg


def test_sniff() -> None:
    assert sniff(make_image("PNG")) == "png"
    assert sniff(make_image("JPEG")) == "jpeg"
    assert sniff(make_image("WEBP")) == "webp"
    assert sniff(make_image("GIF")) == "gif"
    assert sniff(b"GIF87a" + b"\0" * 10) == "gif"
    assert sniff(b"RIFF\0\0\0\0WAVEfmt ") is None
    assert sniff(b"") is None
    assert sniff(b"hello world, not an image") is None


def test_import_is_cheap() -> None:
    code = "import sys, providers.images; assert 'PIL' not in sys.modules, 'PIL imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(images.__file__).parent.parent)


# -- local files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime", "name"),
    [
        ("PNG", "image/png", "a.png"),
        ("JPEG", "image/jpeg", "a.jpg"),
        ("WEBP", "image/webp", "a.webp"),
        ("GIF", "image/gif", "a.gif"),
    ],
)
def test_real_image_inside_allowed_is_accepted(allowed: Path, fmt: str, mime: str, name: str) -> None:
    img = allowed / name
    img.write_bytes(make_image(fmt))
    data, got = load_local(str(img), [allowed])
    assert got == mime and data == img.read_bytes()
    ref = validate_image(str(img), [allowed])
    assert ref == ImageRef(kind="path", value=str(img.resolve()), mime=mime, size_bytes=len(data))


def test_mime_comes_from_content_not_extension(allowed: Path) -> None:
    img = allowed / "really-a-jpeg.png"
    img.write_bytes(make_image("JPEG"))
    assert load_local(str(img), [allowed])[1] == "image/jpeg"


def test_relative_home_and_file_url_forms(allowed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    img = allowed / "pic one.png"
    img.write_bytes(make_image())
    monkeypatch.chdir(allowed.parent)
    assert resolve_path("allowed/pic one.png", [allowed]) == img.resolve()
    assert resolve_path("./allowed/../allowed/pic one.png", [allowed]) == img.resolve()
    monkeypatch.setenv("HOME", str(allowed.parent))
    assert resolve_path("~/allowed/pic one.png", [allowed]) == img.resolve()
    assert resolve_path(f"file://{allowed}/pic%20one.png", [allowed]) == img.resolve()
    assert resolve_path(f"file://localhost{allowed}/pic%20one.png", [allowed]) == img.resolve()
    assert resolve_path(img, [allowed]) == img.resolve()  # a Path works too
    # the allowed folder may itself be given with ~ or through a symlink
    link = allowed.parent / "link-to-allowed"
    link.symlink_to(allowed)
    assert resolve_path(str(img), ["~/link-to-allowed"]) == img.resolve()


def test_etc_passwd_refused(allowed: Path) -> None:
    msg = refused(validate_image, "/etc/passwd", [allowed])
    assert "outside the folders this server may read" in msg
    assert str(allowed.resolve()) in msg and "VIDEOGEN_ALLOWED_DIRS" in msg
    assert "root:" not in msg


def test_ssh_key_style_path_refused(allowed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(SECRET)
    monkeypatch.setenv("HOME", str(home))
    msg = refused(load_local, "~/.ssh/id_rsa", [allowed])
    assert "outside" in msg and "VIDEOGEN_ALLOWED_DIRS" in msg
    refused(load_local, f"file://{home}/.ssh/id_rsa", [allowed])


def test_dotdot_escape_refused(allowed: Path, outside: Path) -> None:
    refused(validate_image, f"{allowed}/../../../../../../etc/passwd", [allowed])
    msg = refused(validate_image, f"{allowed}/../secret.txt", [allowed])
    assert "outside" in msg


def test_dotdot_escape_refused_relative(allowed: Path, outside: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(allowed)
    refused(validate_image, "allowed/../../etc/passwd", [allowed])
    refused(validate_image, "../secret.txt", [allowed])


def test_symlink_pointing_outside_refused(allowed: Path, outside: Path) -> None:
    link = allowed / "innocent.png"
    link.symlink_to(outside)
    msg = refused(validate_image, str(link), [allowed])
    assert "outside" in msg and f"resolves to '{outside.resolve()}'" in msg
    etc_link = allowed / "passwd.png"
    etc_link.symlink_to("/etc/passwd")
    refused(load_local, str(etc_link), [allowed])


def test_symlinked_directory_pointing_outside_refused(allowed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.png").write_bytes(make_image())  # even a real image outside is refused
    (allowed / "sub").symlink_to(elsewhere)
    refused(load_local, str(allowed / "sub" / "a.png"), [allowed])


def test_symlink_to_image_inside_allowed_is_fine(allowed: Path) -> None:
    (allowed / "real.png").write_bytes(make_image())
    (allowed / "alias.png").symlink_to(allowed / "real.png")
    assert resolve_path(str(allowed / "alias.png"), [allowed]) == (allowed / "real.png").resolve()


def test_sibling_prefix_trick_refused(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    evil = tmp_path / "allowed-evil"
    evil.mkdir()
    (evil / "a.png").write_bytes(make_image())
    msg = refused(validate_image, str(evil / "a.png"), [allowed])
    assert "outside" in msg


def test_no_allowed_dirs_refuses_every_path(allowed: Path) -> None:
    (allowed / "a.png").write_bytes(make_image())
    msg = refused(validate_image, str(allowed / "a.png"), [])
    assert "VIDEOGEN_ALLOWED_DIRS" in msg and "URL" in msg


def test_text_file_named_png_refused_by_content(allowed: Path) -> None:
    fake = allowed / "notes.png"
    fake.write_text(SECRET)
    msg = refused(validate_image, str(fake), [allowed])
    assert "JPEG, PNG, WebP or GIF" in msg


def test_file_over_cap_refused(allowed: Path) -> None:
    img = allowed / "big.png"
    img.write_bytes(make_image(size=(64, 64)))
    msg = refused(load_local, str(img), [allowed], max_bytes=100)
    assert "at most 100 bytes" in msg
    assert load_local(str(img), [allowed])[1] == "image/png"  # fine under the default cap


def test_missing_file_and_directory(allowed: Path) -> None:
    msg = refused(resolve_path, str(allowed / "nope.png"), [allowed])
    assert msg.startswith("image file not found:") and "URL" in msg
    (allowed / "dir.png").mkdir()
    msg = refused(resolve_path, str(allowed / "dir.png"), [allowed])
    assert "directory, not a file" in msg
    msg = refused(resolve_path, str(allowed), [allowed])
    assert "directory, not a file" in msg


def test_missing_file_outside_says_outside_not_missing(allowed: Path, tmp_path: Path) -> None:
    # Existence outside the allowed folders is never revealed.
    msg = refused(resolve_path, str(tmp_path / "does-not-exist.png"), [allowed])
    assert "outside" in msg and "not found" not in msg


def test_fifo_refused(allowed: Path) -> None:
    fifo = allowed / "pipe.png"
    os.mkfifo(fifo)
    msg = refused(load_local, str(fifo), [allowed])
    assert "not a regular file" in msg


def test_odd_path_inputs(allowed: Path) -> None:
    refused(resolve_path, "/tmp/a\x00.png", [allowed])
    refused(resolve_path, "file://evil.example.com/etc/passwd", [allowed])
    refused(resolve_path, f"file://{allowed}/a.png#frag", [allowed])
    msg = refused(resolve_path, "https://example.com/a.png", [allowed])
    assert "expected a local file path" in msg


# -- data URIs -------------------------------------------------------------------------------------


def test_data_uri_good() -> None:
    png = make_image()
    assert decode_data_uri(data_uri(png)) == (png, "image/png")
    # declared type is a hint; the content decides
    jpeg = make_image("JPEG")
    assert decode_data_uri(data_uri(jpeg, "image/png")) == (jpeg, "image/jpeg")
    # line-wrapped base64 (as `base64` prints it) is fine
    wrapped = base64.encodebytes(png).decode()
    assert decode_data_uri(f"data:image/png;base64,\n{wrapped}")[0] == png
    ref = validate_image(data_uri(png), [])
    assert ref.kind == "data" and ref.mime == "image/png" and ref.size_bytes == len(png)


def test_data_uri_garbage_refused() -> None:
    msg = refused(decode_data_uri, "data:image/png;base64,this is !!! not base64 ***")
    assert "not valid base64" in msg and "data:image/png;base64," in msg
    refused(decode_data_uri, "data:image/png;base64,AAA")  # bad padding
    refused(decode_data_uri, "data:image/png;base64,-_-_")  # url-safe alphabet


def test_data_uri_not_an_image_refused() -> None:
    text = base64.b64encode(SECRET.encode()).decode()
    msg = refused(decode_data_uri, f"data:text/plain;base64,{text}")
    assert "not an image" in msg and "data:image/png;base64," in msg
    msg = refused(decode_data_uri, f"data:image/png;base64,{text}")  # image mime, text content
    assert "JPEG, PNG, WebP or GIF" in msg
    refused(decode_data_uri, f"data:,{SECRET}")  # no type means text/plain
    refused(decode_data_uri, "data:image/svg+xml;base64," + base64.b64encode(b"<svg/>").decode())


def test_data_uri_must_be_base64() -> None:
    msg = refused(decode_data_uri, "data:image/png,%89PNG")
    assert "base64" in msg
    refused(decode_data_uri, "data:image/png;base64")  # no comma


def test_data_uri_over_cap_refused() -> None:
    png = make_image(size=(64, 64))
    msg = refused(decode_data_uri, data_uri(png), max_bytes=100)
    assert "at most 100 bytes" in msg


def test_data_uri_huge_refused_cheaply(monkeypatch: pytest.MonkeyPatch) -> None:
    huge = "data:image/png;base64," + "A" * (MAX_IMAGE_BYTES * 2)

    def boom(*args, **kwargs):
        raise AssertionError("decoded a string that the length check should have refused")

    class NoScan:
        sub = staticmethod(boom)

    # neither whitespace removal nor decoding may run: the raw length alone refuses it
    monkeypatch.setattr(images, "_WHITESPACE", NoScan())
    monkeypatch.setattr(images.base64, "b64decode", boom)
    msg = refused(decode_data_uri, huge)
    assert "at most 10.0 MB" in msg


def test_data_uri_error_does_not_echo_payload() -> None:
    payload = base64.b64encode(SECRET.encode() * 10).decode()
    for uri in (f"data:image/png;base64,{payload}", f"data:text/plain;base64,{payload}"):
        msg = refused(validate_image, uri, [])
        assert payload[:20] not in msg


# -- URLs ------------------------------------------------------------------------------------------


def test_url_good() -> None:
    url = "https://cdn.example.com/a%20b.png?sig=abc&x=1"
    assert check_url(f"  {url} ") == url
    assert validate_image(url, []) == ImageRef(kind="url", value=url)
    assert check_url("http://127.0.0.1:8080/a.png")


@pytest.mark.parametrize(
    "url",
    ["https://user:pass@example.com/a.png", "https://token@example.com/a.png", "HTTPS://u:p@EXAMPLE.com/x"],
)
def test_url_with_credentials_refused(url: str) -> None:
    msg = refused(check_url, url)
    assert "credentials" in msg and "http:// or https://" in msg
    assert "pass" not in msg.replace("password", "")  # the secret part is not echoed


def test_url_bad_forms_refused() -> None:
    assert "http:// or https://" in refused(check_url, "ftp://example.com/a.png")
    assert "not supported" in refused(validate_image, "ftp://example.com/a.png", [])
    long_url = "https://example.com/" + "a" * 2100
    msg = refused(check_url, long_url)
    assert "2048" in msg and long_url not in msg
    assert "no host" in refused(check_url, "https:///a.png")
    assert "control" in refused(check_url, "https://example.com/a\r\nX-Evil: 1")
    assert "malformed" in refused(check_url, "https://example.com:99999999/a.png")


# -- conversions -----------------------------------------------------------------------------------


def test_to_data_uri_round_trips(allowed: Path) -> None:
    webp = make_image("WEBP")
    (allowed / "a.bin").write_bytes(webp)
    uri = to_data_uri(str(allowed / "a.bin"), [allowed])
    assert uri.startswith("data:image/webp;base64,")
    assert decode_data_uri(uri) == (webp, "image/webp")
    wrapped = "data:image/png;base64,\n" + base64.encodebytes(webp).decode()
    assert to_data_uri(wrapped, []) == uri  # normalised: sniffed type, unwrapped base64
    url = "https://example.com/a.png"
    assert to_data_uri(url, []) == url


def test_conversions_enforce_the_same_rules(allowed: Path, outside: Path) -> None:
    for fn in (to_bytes, to_data_uri):
        refused(fn, str(outside), [allowed])
        refused(fn, "/etc/passwd", [allowed])
        refused(fn, "ftp://example.com/a.png", [allowed])


def test_to_bytes_refuses_urls_without_fetcher(allowed: Path) -> None:
    png = make_image()
    (allowed / "a.png").write_bytes(png)
    assert to_bytes(str(allowed / "a.png"), [allowed]) == (png, "image/png")
    assert to_bytes(data_uri(png), []) == (png, "image/png")
    msg = refused(to_bytes, "https://example.com/a.png", [allowed])
    assert "local file path or a data URI" in msg


def test_to_bytes_async_with_fetcher() -> None:
    png = make_image()
    seen: list[tuple[str, int]] = []

    async def fetch(url: str, max_bytes: int) -> bytes:
        seen.append((url, max_bytes))
        return png

    async def fetch_text(url: str, max_bytes: int) -> bytes:
        return SECRET.encode()

    async def main() -> None:
        assert await to_bytes_async("https://example.com/a.png", [], fetch) == (png, "image/png")
        assert seen == [("https://example.com/a.png", MAX_IMAGE_BYTES)]
        with pytest.raises(InvalidRequest):
            await to_bytes_async("https://example.com/a.png", [])  # no fetcher: refused
        with pytest.raises(InvalidRequest) as info:
            await to_bytes_async("https://example.com/a.txt", [], fetch_text)
        assert SECRET not in info.value.message
        with pytest.raises(InvalidRequest):
            await to_bytes_async("https://u:p@example.com/a.png", [], fetch)
        with pytest.raises(InvalidRequest):
            await to_bytes_async("https://example.com/a.png", [], fetch, max_bytes=10)

    anyio.run(main)


# -- Pillow ----------------------------------------------------------------------------------------


def test_reencode_webp_to_jpeg() -> None:
    out = reencode(make_image("WEBP", (40, 30)), "jpeg")
    assert sniff(out) == "jpeg"
    assert image_size(out) == (40, 30)


def test_reencode_alpha_gif_and_downscale() -> None:
    out = reencode(make_image("PNG", (400, 100), mode="RGBA"), "jpeg", max_side=200)
    assert sniff(out) == "jpeg" and image_size(out) == (200, 50)
    assert sniff(reencode(make_image("GIF"), "png")) == "png"
    assert sniff(reencode(make_image("JPEG"), "webp")) == "webp"
    small = make_image("PNG", (50, 40))
    assert image_size(reencode(small, "png", max_side=200)) == (50, 40)  # never upscales


def test_reencode_applies_exif_orientation() -> None:
    img = Image.new("RGB", (60, 20), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    assert image_size(out.getvalue()) == (60, 20)
    assert image_size(reencode(out.getvalue(), "jpeg")) == (20, 60)


def test_image_size() -> None:
    assert image_size(make_image("PNG", (300, 750))) == (300, 750)
    assert image_size(make_image("JPEG", (1280, 720))) == (1280, 720)
    assert image_size(make_image("WEBP", (17, 33))) == (17, 33)


def test_pillow_errors_are_invalid_request() -> None:
    garbage = b"\x89PNG\r\n\x1a\n" + b"\0" * 40
    msg = refused(image_size, garbage)
    assert "JPEG, PNG, WebP or GIF" in msg
    refused(reencode, garbage, "jpeg")
    refused(reencode, make_image(), "bmp")  # type: ignore[arg-type]


def webp_variant(kind: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    frames = [Image.new("RGB", size, c) for c in ((200, 30, 60), (30, 60, 200))]
    if kind == "animated":
        frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:])
    else:
        frames[0].save(out, format="WEBP", lossless=kind == "lossless")
    return out.getvalue()


@pytest.mark.parametrize("size", [(1, 1), (17, 33), (1000, 3)])
def test_header_size_agrees_with_pillow(size: tuple[int, int]) -> None:
    """The pixel cap reads PNG, GIF and WebP headers itself; a misread would refuse (or pass) the wrong images."""
    samples = {
        "png": make_image("PNG", size),
        "gif": make_image("GIF", size),
        **{f"webp-{k}": webp_variant(k, size) for k in ("lossy", "lossless", "animated")},
    }
    for name, data in samples.items():
        assert images.header_size(data) == image_size(data) == size, name
    assert images.header_size(make_image("JPEG", size)) is None  # JPEG: Pillow reads its markers
    assert images.check_pixels(make_image("JPEG", size)) == size


# -- video inputs (providers.videos): the same confinement, MP4/MOV/WebM by their bytes, headers by PyAV ------


def make_video(path: Path, fmt: str, codec: str = "mpeg4", size: tuple[int, int] = (64, 48), frames: int = 12) -> Path:
    """A real video file written with PyAV (12 fps)."""
    import av
    import numpy as np

    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=12)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            pixels = np.full((size[1], size[0], 3), i * 7 % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize(
    ("fmt", "codec", "mime"),
    [("mp4", "mpeg4", "video/mp4"), ("mov", "mpeg4", "video/quicktime"), ("webm", "libvpx", "video/webm")],
)
def test_videos_are_known_by_their_bytes_and_read_by_their_headers(allowed: Path, fmt, codec, mime) -> None:
    from providers import videos

    path = make_video(allowed / f"clip.{fmt}", fmt, codec, size=(96, 54), frames=24)
    ref = videos.validate_video(str(path), [allowed])
    assert (ref.kind, ref.mime, ref.width, ref.height) == ("path", mime, 96, 54)
    assert ref.seconds == pytest.approx(2.0, abs=0.1) and ref.size_bytes == path.stat().st_size
    uri = videos.data_uri(path.read_bytes(), mime)
    assert videos.validate_video(uri, []).mime == mime  # a data URI needs no folder
    renamed = allowed / "clip.bin"  # the name says nothing
    renamed.write_bytes(path.read_bytes())
    assert videos.validate_video(str(renamed), [allowed]).mime == mime


def test_what_is_not_mp4_mov_or_webm_is_refused(allowed: Path) -> None:
    from providers import videos

    mkv = make_video(allowed / "clip.mkv", "matroska")
    avif = b"\x00\x00\x00\x1cftypavif" + b"\x00" * 32  # ISO base media, but a still image
    assert videos.sniff(mkv.read_bytes()) is None and videos.sniff(avif) is None
    assert videos.sniff(make_image("PNG")) is None and videos.sniff(b"") is None
    (allowed / "still.mp4").write_bytes(avif)
    (allowed / "text.mp4").write_text("not a video")
    for name in ("clip.mkv", "still.mp4", "text.mp4"):
        with pytest.raises(InvalidRequest, match="not an MP4, MOV or WebM video by its content"):
            videos.validate_video(str(allowed / name), [allowed])
    broken = allowed / "broken.mp4"  # the right first bytes, nothing readable after them
    broken.write_bytes(b"\x00\x00\x00\x20ftypisom" + os.urandom(4000))
    with pytest.raises(InvalidRequest, match="cannot be read as a video"):
        videos.validate_video(str(broken), [allowed])


def test_video_paths_are_confined_like_images(allowed: Path, outside: Path, tmp_path: Path) -> None:
    from providers import videos

    elsewhere = make_video(tmp_path / "elsewhere.mp4", "mp4")
    link = allowed / "link.mp4"
    link.symlink_to(elsewhere)
    for value in (str(elsewhere), str(link), str(allowed / ".." / "elsewhere.mp4"), str(outside)):
        with pytest.raises(InvalidRequest, match=r"video path .* is outside the folders") as e:
            videos.validate_video(value, [allowed])
        assert SECRET not in str(e.value)
    with pytest.raises(InvalidRequest, match="this server may read no local folders"):
        videos.validate_video(str(elsewhere), [])
    with pytest.raises(InvalidRequest, match="is a directory"):
        videos.validate_video(str(allowed), [allowed])


def test_video_size_and_limits_are_checked_before_reading(allowed: Path) -> None:
    from providers import videos

    clip = make_video(allowed / "clip.mp4", "mp4", size=(64, 48), frames=36)  # 3 s
    size = clip.stat().st_size
    with pytest.raises(InvalidRequest, match=f"at most {size - 1} bytes for m/x.*https URL"):
        videos.validate_video(str(clip), [allowed], max_bytes=size - 1, where="m/x")
    with pytest.raises(InvalidRequest, match=r"64x48; m/x takes input videos of at least 720 pixels"):
        videos.validate_video(str(clip), [allowed], min_side=720, where="m/x")
    with pytest.raises(InvalidRequest, match=r"3\.0 s long; m/x takes input videos of at most 2 s"):
        videos.validate_video(str(clip), [allowed], max_seconds=2, where="m/x")
    assert videos.validate_video(str(clip), [allowed], max_bytes=size, max_seconds=3, min_side=48).seconds


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("data:image/png;base64,iVBORw0KGgo=", "not a video"),
        ("data:video/mp4,AAAA", "not base64-encoded"),
        ("data:video/mp4;base64", "no ','"),
        ("data:video/mp4;base64,@@@@", "not valid base64"),
        ("data:video/mp4;base64," + base64.b64encode(b"\x00" * 64).decode(), "not an MP4, MOV or WebM"),
        ("ftp://example.com/a.mp4", "video scheme 'ftp:' is not supported"),
        ("   ", "video is empty"),
        ("https://user:pw@example.com/a.mp4", "video URL contains credentials"),
    ],
)
def test_bad_video_strings_say_what_is_allowed(value: str, words: str) -> None:
    from providers import videos

    with pytest.raises(InvalidRequest, match=words):
        videos.validate_video(value, [])


def test_a_video_url_is_passed_on_unfetched() -> None:
    from providers import videos

    ref = videos.validate_video(" https://example.com/in.mp4 ", [])
    assert (ref.kind, ref.value, ref.size_bytes) == ("url", "https://example.com/in.mp4", None)
    with pytest.raises(InvalidRequest, match="needs the video itself"):
        videos.to_bytes("https://example.com/in.mp4", [])


def streamed_webm(path: Path, size: tuple[int, int] = (64, 48), frames: int = 36) -> Path:
    """A WebM as a live recorder writes it, to an output it cannot seek back in (PyAV on a write-only object):
    no Duration in the Segment Info, no Cues, sizes unknown. 12 fps."""
    import av
    import numpy as np

    class Pipe:
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, chunk: bytes) -> int:
            self.data += chunk
            return len(chunk)

    pipe = Pipe()
    with av.open(pipe, "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=12)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            pixels = np.full((size[1], size[0], 3), i * 7 % 256, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    path.write_bytes(bytes(pipe.data))
    return path


def test_a_streamed_webm_without_a_stated_length_is_measured_from_its_packets(allowed: Path) -> None:
    import av

    from providers import videos

    streamed = streamed_webm(allowed / "streamed.webm")  # 3 s
    with av.open(str(streamed)) as container:  # the premise: neither the stream nor the container says
        assert container.streams.video[0].duration is None and container.duration is None
    assert videos.validate_video(str(streamed), [allowed]).seconds == pytest.approx(3.0, abs=0.1)
    with pytest.raises(InvalidRequest, match=r"3\.0 s long; m/x takes input videos of at most 2 s"):
        videos.validate_video(str(streamed), [allowed], max_seconds=2, where="m/x")
    uri = videos.data_uri(streamed.read_bytes(), "video/webm")
    with pytest.raises(InvalidRequest, match=r"3\.0 s long"):
        videos.validate_video(uri, [], max_seconds=2, where="m/x")


def test_a_video_whose_length_cannot_be_read_is_refused_where_a_limit_applies(allowed: Path) -> None:
    from providers import videos

    data = streamed_webm(allowed / "streamed.webm").read_bytes()
    headers = allowed / "headers.webm"  # the tracks (so the frame size) and a Cluster's start: no packet at all
    headers.write_bytes(data[: data.find(b"\x1f\x43\xb6\x75") + 8])
    ref = videos.validate_video(str(headers), [allowed])  # no limit stated: nothing to refuse
    assert (ref.width, ref.height, ref.seconds) == (64, 48, None)
    with pytest.raises(InvalidRequest, match=r"length of video file .* could not be read.*at most 15 s") as e:
        videos.validate_video(str(headers), [allowed], max_seconds=15, where="m/x")
    assert "m/x takes" in str(e.value)


def test_video_urls_are_https_only_and_the_message_says_so() -> None:
    from providers import videos

    for value in ("http://example.com/a.mp4", "https://example.com:99999/a.mp4"):
        with pytest.raises(InvalidRequest, match="video URLs must be https://, have a host") as e:
            videos.validate_video(value, [])
        assert "http://" not in str(e.value).replace(value, "")
    with pytest.raises(InvalidRequest, match="image URLs must be http:// or https://"):  # images: both, as before
        images.check_url("https://example.com:99999/a.png")
    assert images.check_url(" HTTPS://example.com/a.mp4 ", "video", ("https",)) == "HTTPS://example.com/a.mp4"
