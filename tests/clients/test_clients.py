"""The server driven by real agent frameworks, offline (issue 8): each framework runs in its own cached venv
against a real server process and a scripted fake model. See README.md in this folder."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from harness import fake_model, jobs, known_bug, losses, run_scenario, server_env, server_tools
from test_transports import serving

pytestmark = pytest.mark.slow


@contextmanager
def maybe_serving(env: dict[str, str], transport: str) -> Iterator[str | None]:
    """The server over streamable HTTP (its URL), or None: over stdio the framework starts it."""
    if transport == "stdio":
        yield None
        return
    with serving({**env, "VIDEOGEN_DEFAULT_PROVIDER": "demo"}, "streamable-http") as url:
        yield f"{url}/mcp"


def test_fastmcp_client(env, tmp_path):
    calls = [
        ["generate_video", {"prompt": "a paper boat", "provider": "demo", "duration": 2}],
        ["get_status", {"job_id": "$job_id", "wait_seconds": 10}],
    ]
    summary = run_scenario("fastmcp", "fastmcp_client.py", {"env": server_env(env), "calls": calls}, tmp_path)
    assert summary["ok"], summary
    assert {"generate_video", "get_status", "list_models", "estimate_cost"} <= set(summary["tools"])
    made, status = summary["results"]
    assert not made["is_error"] and not status["is_error"], summary["results"]
    assert status["structured"]["status"] == "succeeded" and status["data_status"] == "succeeded"
    assert status["structured"]["job_id"] == made["structured"]["job_id"]
    assert summary["progress"], "fastmcp sends a progress token: the server reports progress while it waits"
    [job] = jobs(env)
    assert job["job_id"] == made["structured"]["job_id"] and job["status"] == "succeeded"


def test_misspelled_arguments_are_refused_by_name(env, tmp_path):
    misspelled = {"prompt": "a paper boat", "provider": "demo", "aspectRatio": "9:16", "durationSeconds": 3}
    calls = [["estimate_cost", misspelled], ["generate_video", {**misspelled, "wait_seconds": 0}]]
    summary = run_scenario("fastmcp", "fastmcp_client.py", {"env": server_env(env), "calls": calls}, tmp_path)
    assert summary["ok"], summary
    made = jobs(env)
    ignored = [r for r in summary["results"] if not r["is_error"]]
    known_bug(
        len(ignored) == 2 and [json.loads(j["request"])["aspect_ratio"] for j in made] == ["16:9"],
        f"accepted: {[r['text'][:120] for r in ignored]}",
    )
    for result in summary["results"]:
        assert result["is_error"], result
        assert "aspectRatio" in result["text"] and "aspect_ratio" in result["text"], result["text"]
        assert "durationSeconds" in result["text"], result["text"]
    assert made == []


def assert_agent_made_one_video(summary: dict, model, env: dict[str, str], api: str, retried: bool = False) -> None:
    """The agent finished after generate_video -> get_status, one job exists and succeeded, and the model was
    told about it in the tool results it was sent. With `retried`, a failed generate_video tried again by the
    model is allowed, as long as it did not start a second job."""
    assert summary["ok"], summary
    assert model.unknown() == [] and {r["api"] for r in model.requests} == {api}
    [job] = jobs(env)
    assert job["status"] == "succeeded"
    names = [name for name, _ in model.calls()]
    generates = names.count("generate_video")
    assert names[:generates] == ["generate_video"] * generates and (generates == 1 or retried), names
    assert set(names[generates:]) == {"get_status"}, names
    assert summary["final"] == f"Job {job['job_id']} succeeded. Done."
    results = model.tool_results()
    assert all(job["job_id"] in r for r in results[generates - 1 :]), results


@pytest.mark.parametrize("transport", ["stdio", "streamable-http"])
def test_openai_agents_default_timeout_pays_once(env, tmp_path, transport):
    env = {**env, "VIDEOGEN_DEMO_LATENCY": "8"}  # the job outlasts the SDK's 5 s default timeout
    with fake_model() as (model, url), maybe_serving(env, transport) as http_url:
        config = {"env": server_env(env), "model_url": url, "http_url": http_url}
        summary = run_scenario("openai-agents", "openai_agents_agent.py", config, tmp_path)
    assert summary["ok"], summary
    made = jobs(env)
    retried = [r for r in model.tool_results() if "Please try again" in r]
    known_bug(retried and len(made) > 1, f"{len(made)} jobs for one video; the model was told: {retried[:1]}")
    # Fixed by a shorter wait without a progress token, or by returning the running twin to the retry.
    assert_agent_made_one_video(summary, model, env, api="responses", retried=True)


def test_openai_agents_with_a_long_timeout_pays_once(env, tmp_path):
    """The control for the test above: the same agent with a timeout longer than the server's wait."""
    env = {**env, "VIDEOGEN_DEMO_LATENCY": "8"}
    with fake_model() as (model, url):
        config = {"env": server_env(env), "model_url": url, "timeout": 60}
        summary = run_scenario("openai-agents", "openai_agents_agent.py", config, tmp_path)
    assert_agent_made_one_video(summary, model, env, api="responses")


def test_openai_agents_sends_every_tool_strict(env, tmp_path):
    with fake_model(max_calls=0) as (model, url):
        config = {"env": server_env(env), "model_url": url}
        summary = run_scenario("openai-agents", "openai_agents_agent.py", config, tmp_path)
    assert summary["ok"], summary
    tools = model.tools()
    assert {"generate_video", "get_status", "list_models", "estimate_cost"} <= set(tools)
    loose = sorted(name for name, tool in tools.items() if tool["strict"] is not True)
    known_bug(
        loose == ["estimate_cost", "generate_video"]
        and "options" in tools["generate_video"]["parameters"]["properties"],
        f"sent non-strict: {loose}",
    )
    assert loose == []
    assert jobs(env) == []


LANGCHAIN_CRASH = {
    "openai": "OpenAI Chat Completions does not support file URLs",
    "google": "No connection adapters were found for 'videogen://jobs/",
}


@pytest.mark.parametrize("chat_model", ["openai", "google"])
def test_langchain_create_agent(env, tmp_path, chat_model):
    with fake_model() as (model, url):
        config = {"env": server_env(env), "model_url": url, "model": chat_model}
        summary = run_scenario("langchain", "langchain_agent.py", config, tmp_path)
    known_bug(not summary["ok"] and LANGCHAIN_CRASH[chat_model] in summary["error"], summary.get("error", ""))
    assert_agent_made_one_video(summary, model, env, api={"openai": "chat", "google": "gemini"}[chat_model])


@pytest.mark.parametrize("chat_model", ["openai", "google"])
def test_pydantic_ai_agent(env, tmp_path, chat_model):
    with fake_model() as (model, url):
        config = {"env": server_env(env), "model_url": url, "model": chat_model}
        summary = run_scenario("pydantic-ai", "pydantic_ai_agent.py", config, tmp_path)
    assert_agent_made_one_video(summary, model, env, api={"openai": "chat", "google": "gemini"}[chat_model])


GENAI_CRASH = "AttributeError: 'bool' object has no attribute 'items'"


def test_google_genai_converts_every_tool(env, tmp_path):
    summary = run_scenario("google-genai", "google_genai_mcp.py", {"env": server_env(env)}, tmp_path)
    assert summary["ok"], summary
    failed = summary["failed"]
    known_bug(
        sorted(failed) == ["estimate_cost", "generate_video"] and all(e == GENAI_CRASH for e in failed.values()),
        str(failed),
    )
    assert failed == {}
    assert set(summary["converted"]) == set(server_tools(env))


def test_google_genai_keeps_every_description(env, tmp_path):
    """Of the tools google-genai converts, every parameter and its description reach the Gemini declaration."""
    summary = run_scenario("google-genai", "google_genai_mcp.py", {"env": server_env(env)}, tmp_path)
    assert summary["ok"], summary
    truth = server_tools(env)
    lost = losses(summary["converted"], {name: truth[name] for name in summary["converted"]})
    nullable = [
        f"{tool}.{param}: description lost"
        for tool in summary["converted"]
        for param, spec in truth[tool]["properties"].items()
        if spec.get("description") and {"type": "null"} in spec.get("anyOf", [])
    ]
    known_bug(lost and lost == nullable, f"descriptions lost: {lost}")
    assert lost == []


def test_google_genai_session_as_tool(env, tmp_path):
    with fake_model() as (model, url):
        config = {"env": server_env(env), "model_url": url, "agent": True}
        summary = run_scenario("google-genai", "google_genai_mcp.py", config, tmp_path)
    known_bug(not summary["ok"] and GENAI_CRASH in summary["error"], summary.get("error", ""))
    assert_agent_made_one_video(summary, model, env, api="gemini")


def test_a_finished_job_costs_the_model_few_characters(env, tmp_path):
    """What each tool result adds to the conversation the model is sent (pydantic-ai puts a result's image in
    a message of its own): at most 16,000 characters for a finished job, the thumbnail included."""
    with fake_model() as (model, url):
        config = {"env": server_env(env), "model_url": url, "model": "openai"}
        summary = run_scenario("pydantic-ai", "pydantic_ai_agent.py", config, tmp_path)
    assert_agent_made_one_video(summary, model, env, api="chat")
    bodies = [json.dumps(r["body"]) for r in model.requests]
    added = [len(after) - len(before) for before, after in itertools.pairwise(bodies)]
    png = "iVBORw0KGgo"  # a base64 PNG's first bytes
    known_bug(
        all(n > 40_000 for n in added) and all(b.count(png) == i for i, b in enumerate(bodies)),
        f"characters added per finished-job result: {added}",
    )
    assert max(added) <= 16_000, added


SCHEMA_CASES = [
    pytest.param("langchain", "langchain_agent.py", {"model": "openai"}, id="langchain-ChatOpenAI"),
    pytest.param("langchain", "langchain_agent.py", {"model": "google"}, id="langchain-ChatGoogleGenerativeAI"),
    pytest.param("openai-agents", "openai_agents_agent.py", {}, id="openai-agents-strict"),
    pytest.param("pydantic-ai", "pydantic_ai_agent.py", {"model": "openai"}, id="pydantic-ai-OpenAIChatModel"),
    pytest.param("pydantic-ai", "pydantic_ai_agent.py", {"model": "google"}, id="pydantic-ai-GoogleModel"),
]


@pytest.mark.parametrize(("venv", "script", "extra"), SCHEMA_CASES)
def test_schemas_reach_the_model_without_loss(env, tmp_path, venv, script, extra):
    """Every tool, every parameter and its description, as the model receives them through the framework's own
    schema conversion (the fake model answers at once, so nothing runs)."""
    truth = server_tools(env)
    with fake_model(max_calls=0) as (model, url):
        config = {"env": server_env(env), "model_url": url, **extra}
        summary = run_scenario(venv, script, config, tmp_path)
    assert summary["ok"], summary
    assert summary["final"] == "I stop after 0 tool calls."
    assert losses(model.tools(), truth) == []
    assert jobs(env) == []
