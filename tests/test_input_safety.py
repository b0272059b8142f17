"""Input safety (issue 13): image pixel bombs, the default image folders, a symlink swapped in after
validation, and numeric settings that must fail at start."""

from __future__ import annotations

import base64
import io
import sqlite3
import struct
import zlib
from pathlib import Path

import pytest
from mcp import Client
from PIL import Image

from providers.base import ErrorCode, InvalidRequest, ProviderError, VideoRequest
from providers.demo import DemoProvider
from providers.images import MAX_PIXELS, check_pixels, reencode, resolve_path, validate_image
from server.app import build_server
from server.settings import Settings, SettingsError

HUGE = (13000, 13000)  # 169 megapixels: about 1 GB of RAM once decoded as RGBA

# Pillow warns above 89 megapixels when it reads a JPEG or GIF header; the refusal comes from our check.
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


# -- images that are small on disk and huge in memory ------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bilevel_png(width: int, height: int) -> bytes:
    """A real, complete 1-bit PNG, all black: rows of zeros compress to almost nothing (13000x13000: ~25 kB)."""
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte, then the packed pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def gif(screen: tuple[int, int], frame: tuple[int, int]) -> bytes:
    """A GIF whose logical screen and first frame have the given sizes; one LZW clear+end code as data."""
    head = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, *frame, 0)
    return head + descriptor + b"\x02\x02\x4c\x01\x00" + b";"


def webp_canvas(size: tuple[int, int]) -> bytes:
    """A small real (animated, so extended-format) WebP with its VP8X canvas set to `size`: the canvas
    Pillow's decoder allocates when the file is opened."""
    out = io.BytesIO()
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((200, 30, 60), (30, 60, 200))]
    frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:], lossless=True)
    data = bytearray(out.getvalue())
    assert data[12:16] == b"VP8X"
    data[24:27] = (size[0] - 1).to_bytes(3, "little")
    data[27:30] = (size[1] - 1).to_bytes(3, "little")
    return bytes(data)


def jpeg_frame(size: tuple[int, int]) -> bytes:
    """A small real JPEG whose SOF0 claims `size` (Pillow reads it when opening, before any decode)."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 60)).save(out, format="JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", size[1], size[0])
    return bytes(data)


BOMBS = {
    "png": lambda: bilevel_png(*HUGE),
    "gif-screen": lambda: gif(HUGE, (1, 1)),
    "gif-first-frame": lambda: gif((10, 10), HUGE),  # Pillow grows the canvas to the frame
    "webp": lambda: webp_canvas(HUGE),
    "jpeg": lambda: jpeg_frame(HUGE),
}


def test_the_png_bomb_is_small_on_disk() -> None:
    assert len(bilevel_png(*HUGE)) < 200_000


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_a_huge_canvas_is_refused_at_validation_naming_size_and_limit(tmp_path: Path, kind: str) -> None:
    data = BOMBS[kind]()
    path = tmp_path / f"bomb.{kind.split('-')[0]}"
    path.write_bytes(data)
    uri = f"data:image/{kind.split('-')[0]};base64,{base64.b64encode(data).decode()}"
    for value in (str(path), uri):
        with pytest.raises(InvalidRequest) as caught:
            validate_image(value, [tmp_path])
        message = caught.value.message
        assert "13000x13000" in message and "169.0 megapixels" in message, message
        assert f"at most {MAX_PIXELS / 1e6:g} megapixels" in message and "Downscale" in message


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_decoding_paths_refuse_before_decoding(kind: str) -> None:
    """Adapters that re-encode (Runway) and anything that opens an image check the size first."""
    data = BOMBS[kind]()
    with pytest.raises(InvalidRequest, match="13000x13000"):
        reencode(data, "jpeg", max_side=64)
    with pytest.raises(InvalidRequest, match="13000x13000"):
        check_pixels(data)


def test_a_canvas_pillow_will_not_even_open_is_refused_clearly() -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_image("data:image/jpeg;base64," + base64.b64encode(jpeg_frame((20000, 20000))).decode(), [])
    assert "is too large; images may have at most 40 megapixels" in caught.value.message


def test_the_limit_is_on_pixels_not_on_ordinary_images(tmp_path: Path) -> None:
    fine = tmp_path / "fine.png"
    fine.write_bytes(bilevel_png(6000, 6000))  # 36 megapixels: under the cap
    assert validate_image(str(fine), [tmp_path]).mime == "image/png"
    over = tmp_path / "over.png"
    over.write_bytes(bilevel_png(7000, 6000))  # 42 megapixels
    with pytest.raises(InvalidRequest, match="7000x6000"):
        validate_image(str(over), [tmp_path])


@pytest.mark.anyio
async def test_generate_video_refuses_a_pixel_bomb_before_a_job_exists(settings: Settings) -> None:
    bomb = settings.allowed_dirs[0] / "bomb.png"
    bomb.write_bytes(bilevel_png(*HUGE))
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "x", "images": [str(bomb)]})
    assert result.is_error and "13000x13000" in result.content[0].text
    if settings.index_path.exists():
        with sqlite3.connect(settings.index_path) as db:
            assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


@pytest.mark.anyio
async def test_the_demo_provider_refuses_a_pixel_bomb_at_render_time(tmp_path: Path) -> None:
    """A job made before this check existed (or a file changed since) is still refused before decoding."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bilevel_png(*HUGE))
    provider = DemoProvider(env={"VIDEOGEN_DEMO_LATENCY": "0"}, allowed_dirs=[tmp_path])
    request = demo_request(str(bomb))
    submission = await provider.submit("job1", request)
    with pytest.raises(ProviderError) as caught:
        await provider.fetch(await provider.poll(submission, request), submission, request, tmp_path / "out.mp4")
    assert caught.value.code == ErrorCode.INVALID_INPUT and "13000x13000" in caught.value.message


# -- a symlink swapped in after validation ---------------------------------------------------------


def demo_request(image: str) -> VideoRequest:
    return VideoRequest(
        prompt="swap",
        provider="demo",
        model="demo-v1",
        mode="image_to_video",
        duration=1.0,
        aspect_ratio="1:1",
        resolution="360p",
        images=[image],
        seed=1,
    )


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.anyio
@pytest.mark.parametrize("swapped", ["file", "folder"])
async def test_a_symlink_swapped_in_after_validation_reads_nothing_outside(tmp_path: Path, swapped: str) -> None:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    (allowed / "sub").mkdir(parents=True)
    outside.mkdir()
    image = allowed / "sub" / "start.png"
    image.write_bytes(png((220, 40, 40)))
    (outside / "start.png").write_bytes(png((30, 60, 210)))  # a private image the agent must never see
    assert validate_image(str(image), [allowed]).kind == "path"  # the request is accepted

    if swapped == "file":  # the file becomes a link to a file outside
        image.unlink()
        image.symlink_to(outside / "start.png")
    else:  # its folder becomes a link to a folder outside
        image.unlink()
        (allowed / "sub").rmdir()
        (allowed / "sub").symlink_to(outside)

    provider = DemoProvider(env={"VIDEOGEN_DEMO_LATENCY": "0"}, allowed_dirs=[allowed])
    request = demo_request(str(image))
    submission = await provider.submit("job1", request)
    dest = tmp_path / "out.mp4"
    with pytest.raises(ProviderError) as caught:
        await provider.fetch(await provider.poll(submission, request), submission, request, dest)
    assert caught.value.code == ErrorCode.INVALID_INPUT
    assert "outside the folders" in caught.value.message
    assert not dest.exists()  # nothing was rendered from the outside file


# -- default image folders ---------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home folder with no user-dirs.dirs, so platformdirs gives its plain defaults."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_PICTURES_DIR", "XDG_DOWNLOAD_DIR", "VIDEOGEN_ALLOWED_DIRS"):
        monkeypatch.delenv(name, raising=False)
    return home


def default_settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {"VIDEOGEN_DATA_DIR": str(tmp_path / "data"), "VIDEOGEN_OUTPUT_DIR": str(tmp_path / "out")}
    )


def test_a_server_started_from_root_reads_only_its_own_folders(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir("/")
    settings = default_settings(tmp_path)
    expected = [tmp_path / "out", home / "Pictures", home / "Downloads", tmp_path / "data" / "inputs"]
    assert sorted(settings.allowed_dirs) == sorted(p.resolve() for p in expected)
    with pytest.raises(InvalidRequest) as caught:
        resolve_path("/etc/passwd", settings.allowed_dirs)
    message = caught.value.message
    assert "outside the folders" in message and "VIDEOGEN_ALLOWED_DIRS" in message
    assert all(str(p.resolve()) in message for p in expected), message


def test_the_working_folder_is_not_allowed(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "photo.png").write_bytes(png((1, 2, 3)))
    monkeypatch.chdir(project)
    settings = default_settings(tmp_path)
    assert project.resolve() not in settings.allowed_dirs
    with pytest.raises(InvalidRequest, match="outside the folders"):
        validate_image("./photo.png", settings.allowed_dirs)
    (home / "Pictures").mkdir()
    (home / "Pictures" / "photo.png").write_bytes(png((1, 2, 3)))
    assert validate_image("~/Pictures/photo.png", settings.allowed_dirs).kind == "path"


def test_a_pictures_folder_set_to_home_does_not_open_home(tmp_path: Path, home: Path) -> None:
    """xdg-user-dirs marks a disabled folder as "$HOME": allowing it would expose ~/.ssh."""
    (home / ".config").mkdir()
    (home / ".config" / "user-dirs.dirs").write_text('XDG_PICTURES_DIR="$HOME"\nXDG_DOWNLOAD_DIR="$HOME/"\n')
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text("secret")
    settings = default_settings(tmp_path)
    assert home.resolve() not in settings.allowed_dirs
    with pytest.raises(InvalidRequest, match="outside the folders"):
        resolve_path(str(home / ".ssh" / "id_rsa"), settings.allowed_dirs)


def test_the_setting_replaces_the_defaults(tmp_path: Path, home: Path) -> None:
    mine = tmp_path / "mine"
    settings = Settings.from_env({"VIDEOGEN_DATA_DIR": str(tmp_path / "data"), "VIDEOGEN_ALLOWED_DIRS": str(mine)})
    assert settings.allowed_dirs == [mine.resolve(), (tmp_path / "data" / "inputs").resolve()]


# -- numeric settings fail at start ------------------------------------------------------------------

NUMBERS = [
    "VIDEOGEN_WAIT_SECONDS",
    "VIDEOGEN_MAX_WAIT_SECONDS",
    "VIDEOGEN_HEARTBEAT_SECONDS",
    "VIDEOGEN_LEASE_SECONDS",
    "VIDEOGEN_POLL_SCALE",
    "VIDEOGEN_STUCK_SECONDS",
    "VIDEOGEN_MAX_DOWNLOAD_MB",
    "VIDEOGEN_MAX_COST_PER_JOB",
    "VIDEOGEN_DAILY_BUDGET",
    "VIDEOGEN_CONFIRM_ABOVE",
]


@pytest.mark.parametrize("raw", ["ten", "nan", "inf", "-inf", "-1"])
@pytest.mark.parametrize("name", NUMBERS)
def test_a_bad_number_fails_at_start_naming_the_setting(tmp_path: Path, name: str, raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"VIDEOGEN_DATA_DIR": str(tmp_path), "VIDEOGEN_ALLOWED_DIRS": str(tmp_path), name: raw})
    assert name in str(caught.value) and repr(raw) in str(caught.value)
