"""The README's "Use it from agent frameworks" snippets, run as written (issue 8 item 8).

A README block tagged `<!-- snippet: NAME -->` is run unchanged: only the model endpoint and key come from the
frameworks' standard environment variables (pointing at the fake model), and the `mcp-videogen` command the
snippets start is, on this PATH, a stand-in that runs this checkout's server with the test's own index, output
folder and the demo provider. Every `mcpServers` JSON block (Claude Desktop's too) and the `claude mcp add`
command line start the server exactly as they say (command, args, env) and must list its tools.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import PYTHON, ROOT
from harness import client_env, client_python, fake_model, jobs, known_bug
from test_clients import GENAI_CRASH, LANGCHAIN_CRASH, assert_agent_made_one_video

pytestmark = pytest.mark.slow

README = (ROOT / "README.md").read_text()
SNIPPET = re.compile(r"<!-- snippet: ([\w-]+) -->\n```(\w+)\n(.*?)\n```", re.S)
SNIPPETS = {name: code for name, _, code in SNIPPET.findall(README)}
PLACEHOLDER = "/path/to/venv/bin/mcp-videogen"  # the README's stand-in for the user's own install
TOOLS = {"generate_video", "get_status", "list_models", "estimate_cost", "list_jobs", "cancel_job"}


def mcp_videogen(tmp_path: Path, env: dict[str, str], record: tuple[str, ...] = ()) -> Path:
    """An `mcp-videogen` command that runs this checkout's server with the test's settings (over whatever
    environment the client gave it), after writing its arguments and the `record` variables it received to
    calls.jsonl: what the client really started."""
    settings = {**env, "VIDEOGEN_DEFAULT_PROVIDER": "demo", "PYTHONPATH": str(ROOT)}
    command = tmp_path / "bin" / "mcp-videogen"
    command.parent.mkdir(exist_ok=True)
    command.write_text(
        f"#!{PYTHON}\n"
        "import json, os, sys\n"
        f"with open({str(tmp_path / 'calls.jsonl')!r}, 'a') as log:\n"
        f"    env = {{k: os.environ[k] for k in {record!r} if k in os.environ}}\n"
        "    log.write(json.dumps({'argv': sys.argv[1:], 'env': env}) + '\\n')\n"
        f"os.environ.update({settings!r})\n"
        f"os.chdir({str(ROOT)!r})\n"
        f"os.execv({PYTHON!r}, [{PYTHON!r}, '-m', 'server', *sys.argv[1:]])\n"
    )
    command.chmod(0o755)
    return command


def calls(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]


# --- the Python snippets, each in its framework's venv --------------------------------------------------------

# snippet: (venv, the API the framework's default model class speaks, the known crash while the bug lives)
RUNS = {
    "openai-agents": ("openai-agents", "responses", None),
    "langchain": ("langchain", "chat", LANGCHAIN_CRASH["openai"]),
    "pydantic-ai": ("pydantic-ai", "responses", None),
    "gemini": ("google-genai", "gemini", GENAI_CRASH),
}
# A job longer than openai-agents' 5 s default MCP timeout: still one job, no retry paid twice.
SERVER = {"openai-agents": {"VIDEOGEN_DEMO_LATENCY": "8"}}


@pytest.mark.parametrize("name", ["openai-agents", "langchain", "pydantic-ai", "gemini"])
def test_readme_snippet_makes_one_video(env, tmp_path, name):
    venv, api, crash = RUNS[name]
    env = {**env, **SERVER.get(name, {})}
    python = client_python(venv)
    script = tmp_path / f"readme_{name.replace('-', '_')}.py"  # not langchain.py: it would shadow the package
    script.write_text(SNIPPETS[name])
    command = mcp_videogen(tmp_path, env)
    with fake_model() as (model, url):
        model_env = {  # each framework's standard settings: the snippet itself names no endpoint or key
            "OPENAI_BASE_URL": f"{url}/v1",
            "OPENAI_API_KEY": "sk-fake",
            "OPENAI_AGENTS_DISABLE_TRACING": "1",  # offline: no trace export
            "GOOGLE_GEMINI_BASE_URL": url,
            "GEMINI_API_KEY": "fake-key",
        }
        path = f"{command.parent}{os.pathsep}{os.environ.get('PATH', '')}"
        done = subprocess.run(
            [python, str(script)],
            capture_output=True,
            text=True,
            timeout=240,
            env=client_env(PATH=path, **model_env),
            cwd=tmp_path,
        )
    lines = done.stdout.strip().splitlines()
    summary = {"ok": done.returncode == 0, "final": lines[-1] if lines else "", "stderr": done.stderr[-5000:]}
    known_bug(bool(crash) and not summary["ok"] and crash in done.stderr, done.stderr[-600:])
    assert_agent_made_one_video(summary, model, env, api=api)
    assert [c["argv"] for c in calls(tmp_path)] == [[]], "the snippet starts the server once, as `mcp-videogen`"


def test_every_framework_has_a_snippet():
    """The README's section has each snippet this file runs, and no tagged snippet goes unrun."""
    assert set(SNIPPETS) == set(RUNS) | {"claude-code-cli", "claude-code-mcp-json", "cursor-mcp-json"}
    for name in RUNS:
        assert 8 <= len(SNIPPETS[name].splitlines()) <= 25, f"{name}: keep README snippets short"


# --- the JSON configurations and the Claude Code command line ----------------------------------------------


def claude_mcp_add(command_line: str) -> dict[str, Any]:
    """`claude mcp add [options] <name> -- <command> [args...]` as the mcpServers entry Claude Code writes. As
    Claude Code's own parser, `--env` is variadic: it takes every following word up to the next option or `--`,
    so a name after it is refused as an environment variable (anthropics/claude-code#62332)."""
    words = shlex.split(command_line)
    assert words[:3] == ["claude", "mcp", "add"] and "--" in words, command_line
    split = words.index("--")
    options, (command, *args) = words[3:split], words[split + 1 :]
    names, entry, env = [], {"type": "stdio"}, {}
    i = 0
    while i < len(options):
        word = options[i]
        if word in ("-t", "--transport"):
            entry["type"], i = options[i + 1], i + 2
        elif word in ("-s", "--scope"):
            i += 2
        elif word in ("-e", "--env"):
            i += 1
            while i < len(options) and not options[i].startswith("-"):
                key, sep, value = options[i].partition("=")
                assert sep and key, f"Invalid environment variable format: {options[i]}"
                env[key], i = value, i + 1
        else:
            assert not word.startswith("-"), f"unknown option {word}"
            names.append(word)
            i += 1
    [name] = names
    return {"mcpServers": {name: {**entry, "command": command, "args": args, "env": env}}}


def configurations() -> dict[str, dict[str, Any]]:
    """Each `mcpServers` JSON block, named after the README heading it is under, and the command line."""
    found = {}
    for match in re.finditer(r"```json\n(.*?)\n```", README, re.S):
        heading = re.findall(r"^#+ (.+)$", README[: match.start()], re.M)[-1]
        if "mcpServers" in json.loads(match.group(1)):
            found["json-" + re.sub(r"\W+", "-", heading.lower()).strip("-")] = json.loads(match.group(1))
    return {"claude-code-cli": claude_mcp_add(SNIPPETS["claude-code-cli"].strip()), **found}


def test_the_readme_has_each_configuration():
    """Claude Desktop's block, Claude Code's .mcp.json and Cursor's, and the command line."""
    assert len(configurations()) == 4
    assert json.loads(SNIPPETS["claude-code-mcp-json"]) in configurations().values()
    assert json.loads(SNIPPETS["cursor-mcp-json"]) in configurations().values()


def expand(value: str, environ: dict[str, str]) -> str:
    """`${VAR}` as Claude Code expands it in .mcp.json; an unset variable is an error."""
    return re.sub(r"\$\{(\w+)\}", lambda m: environ[m.group(1)], value)


@pytest.mark.parametrize("name", list(configurations()))
def test_configuration_starts_the_server(env, tmp_path, name):
    import anyio
    from mcp import Client, StdioServerParameters

    [entry] = configurations()[name]["mcpServers"].values()
    assert entry.get("type", "stdio") == "stdio" and entry["command"] == PLACEHOLDER, entry
    server_env = {k: expand(v, {"FAL_KEY": "fal-test-key"}) for k, v in (entry.get("env") or {}).items()}
    command = mcp_videogen(tmp_path, env, record=tuple(server_env))
    params = StdioServerParameters(command=str(command), args=entry.get("args") or [], env=server_env)

    async def tools() -> set[str]:
        async with Client(params) as client:
            return {tool.name for tool in (await client.list_tools()).tools}

    assert TOOLS <= anyio.run(tools)
    assert calls(tmp_path) == [{"argv": entry.get("args") or [], "env": server_env}]
    assert jobs(env) == []
