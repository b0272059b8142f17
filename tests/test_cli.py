"""The command line for people, run as a real process over the same engine and index."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from conftest import PYTHON, ROOT, subprocess_env

from server.media import probe


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "server", *args],
        env=subprocess_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_generate_prints_the_video_path_with_a_progress_bar(env: dict[str, str]):
    done = cli(
        env, "generate", "a kite over green hills", "--duration", "2", "--aspect-ratio", "1:1", "--resolution", "360p"
    )
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    assert path.is_file() and path.parent == Path(env["VIDEOGEN_OUTPUT_DIR"]).resolve()
    info = probe(path)
    assert (info.width, info.height) == (360, 360) and abs(info.duration_seconds - 2) < 0.1
    bar_lines = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert any("running" in line for line in bar_lines) and "100.0% succeeded" in bar_lines[-1]


def test_json_output_and_the_read_commands(env: dict[str, str]):
    made = cli(env, "generate", "json please", "--duration", "1", "--resolution", "360p", "--json")
    assert made.returncode == 0, made.stderr
    job = json.loads(made.stdout)
    assert job["status"] == "succeeded" and Path(job["video"]["path"]).is_file()

    status = json.loads(cli(env, "status", job["job_id"], "--json").stdout)
    assert status["job_id"] == job["job_id"] and status["video"] == job["video"]
    assert job["job_id"] in cli(env, "status", job["job_id"]).stdout

    listed = json.loads(cli(env, "jobs", "--json").stdout)
    assert [j["job_id"] for j in listed] == [job["job_id"]]
    assert "json please" in cli(env, "jobs").stdout

    models = json.loads(cli(env, "models", "--json").stdout)
    assert models["default_provider"] == "demo" and any(m["model"] == "demo-v1" for m in models["models"])
    assert "* demo/demo-v1" in cli(env, "models").stdout

    cost = json.loads(cli(env, "cost", "a fox", "--duration", "4", "--json").stdout)
    assert cost["usd"] == 0 and cost["provider"] == "demo"
    assert "demo/demo-v1: $0.00" in cli(env, "cost", "a fox").stdout

    # Cancelling a finished job leaves it as it was.
    assert json.loads(cli(env, "cancel", job["job_id"], "--json").stdout)["status"] == "succeeded"


def test_cancel_a_running_job_from_another_process(env: dict[str, str]):
    env = {**env, "VIDEOGEN_DEMO_LATENCY": "60"}
    started = cli(env, "generate", "long one", "--no-wait", "--json")
    job_id = json.loads(started.stdout)["job_id"]
    cancelled = cli(env, "cancel", job_id, "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["status"] == "cancelled"


def test_bad_input_and_unknown_jobs_exit_2_with_a_clear_message(env: dict[str, str]):
    bad = cli(env, "generate", "x", "--duration", "99")
    assert bad.returncode == 2 and "duration 99 s is not supported" in bad.stderr and "allowed" in bad.stderr
    assert "Traceback" not in bad.stderr
    unknown = cli(env, "status", "job_nope")
    assert unknown.returncode == 2 and "no job with id 'job_nope'" in unknown.stderr
    broken = cli({**env, "VIDEOGEN_WAIT_SECONDS": "soon"}, "jobs")
    assert broken.returncode == 2 and "VIDEOGEN_WAIT_SECONDS='soon' is not a number" in broken.stderr
    index = Path(env["VIDEOGEN_DATA_DIR"]) / "jobs.sqlite3"
    with sqlite3.connect(index) as db:
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


def test_provider_options_from_the_command_line(env: dict[str, str]):
    refused = cli(env, "cost", "x", "--option", 'camera_control={"type": "simple"}')
    assert refused.returncode == 2 and "does not take option(s) camera_control" in refused.stderr
    malformed = cli(env, "cost", "x", "--option", "no-equals-sign")
    assert malformed.returncode == 2 and "--option takes NAME=VALUE" in malformed.stderr


def test_an_unusable_index_is_one_line_not_a_traceback(env: dict[str, str]):
    index = Path(env["VIDEOGEN_DATA_DIR"]) / "jobs.sqlite3"
    index.parent.mkdir(parents=True)
    index.write_bytes(b"this is no SQLite file\x00" * 200)
    for args in (("jobs",), ("status", "job_x"), ("spend",)):
        done = cli(env, *args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1 and len(lines) == 1, done.stderr
        assert "Traceback" not in done.stderr and str(index) in lines[0] and lines[0].startswith("error: ")
    # The server too: over stdio it fails at start, even with its client still connected, and says why.
    serve = subprocess.Popen(
        [PYTHON, "-m", "server", "serve"],
        env=subprocess_env(env),
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        serve.wait(timeout=60)  # stdin stays open meanwhile
    finally:
        serve.kill()
        serve.stdin.close()
    errors = serve.stderr.read()
    assert serve.returncode == 1 and errors.count("\n") == 1 and str(index) in errors, errors
    assert "Traceback" not in errors
    # --debug keeps the traceback for whoever needs it.
    assert "Traceback" in cli(env, "--debug", "jobs").stderr


def test_debug_logs_are_redacted_whichever_logger_writes_them(env: dict[str, str]):
    # Not only the provider client's: a download or redirect logged anywhere goes through the CLI's handler.
    code = (
        "import logging, sys; from server.cli import _configure_logging; _configure_logging(True); "
        "logging.getLogger('server.jobs').debug('following %s', 'https://cdn.example/v.mp4?token=SECRET-42'); "
        "logging.getLogger('httpcore.http11').debug(\"headers [(b'set-cookie', b'id=SECRET-43')]\")"
    )
    done = subprocess.run(
        [PYTHON, "-c", code], env=subprocess_env(env), cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "following https://cdn.example/v.mp4" in done.stderr and "set-cookie" in done.stderr
    assert "SECRET-4" not in done.stderr and "token=" not in done.stderr


def test_a_person_may_name_an_image_in_any_folder_on_the_command_line(env: dict[str, str], tmp_path: Path):
    """Agents read images only inside the allowed folders; a person's own `--image ./x.png` is theirs to send."""
    from PIL import Image

    elsewhere = tmp_path / "elsewhere"  # not in VIDEOGEN_ALLOWED_DIRS
    elsewhere.mkdir()
    Image.new("RGB", (64, 48), (20, 120, 220)).save(elsewhere / "start.png")
    done = subprocess.run(
        [PYTHON, "-m", "server", "generate", "from my picture", "--image", "./start.png", "--duration", "1"],
        env=subprocess_env(env),
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_file()
