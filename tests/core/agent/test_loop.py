"""The shared agent loop against a real HTTP server on 127.0.0.1 speaking the OpenAI chat API: turns, tool
dispatch, malformed actions, budgets, the stage's end rule and the text action format."""

from __future__ import annotations

from typing import Any

from cligym.agent import ActionResult, AgentLoop, Limits
from cligym.llm import BASH_TOOL, ChatClient, ChatReply, ToolSpec, user_message
from cligym.llm.scripted_server import HttpError, Reply, ScriptedModelServer, malformed_tool_call, tool_reply

SUBMIT = ToolSpec(name="submit", description="Finish.")
ROOMY = Limits(max_steps=10, max_total_tokens=100_000, max_seconds=60)


class Shell:
    """A stand-in stage: ``bash`` echoes its command, ``submit`` finishes; every action is recorded."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.recorded: list[tuple[bool, str | None, ActionResult]] = []

    def bash(self, arguments: dict[str, Any]) -> ActionResult:
        command = str(arguments.get("command", ""))
        self.commands.append(command)
        return ActionResult(f"ran {command}", command=command, exit_code=1)

    def submit(self, arguments: dict[str, Any]) -> ActionResult:
        return ActionResult("done", finished=True)

    def record(self, reply: ChatReply | None, call_id: str | None, result: ActionResult) -> None:
        self.recorded.append((reply is not None, call_id, result))


def loop_for(server: ScriptedModelServer, shell: Shell, limits: Limits = ROOMY, **options: Any) -> AgentLoop:
    client = ChatClient(server.base_url, server.model, retry_backoff=0.01, request_timeout=5, max_retries=1)
    return AgentLoop(
        client=client,
        messages=[user_message("repair it")],
        tools=[BASH_TOOL, SUBMIT],
        handlers={"bash": shell.bash, "submit": shell.submit},
        limits=limits,
        no_action_nudge="call a tool",
        no_command_nudge="send a block",
        on_action=shell.record,
        **options,
    )


def test_tool_calls_run_in_order_and_submit_ends_the_conversation() -> None:
    shell = Shell()
    script = [
        tool_reply("bash", {"command": "ls"}, prompt_tokens=50, completion_tokens=5),
        Reply(content="thinking aloud"),
        malformed_tool_call(),
        tool_reply("rm_rf", {}),
        tool_reply("submit", {}),
    ]
    with ScriptedModelServer(script) as server:
        loop = loop_for(server, shell)
        end = loop.run()
        sent_tools = [tool["function"]["name"] for tool in server.requests[0]["tools"]]
    assert (end.reason, end.steps) == ("submitted", 5)
    assert end.usage.prompt_tokens == 50 + 4 * 100 and end.usage.completion_tokens == 5 + 4 * 20
    assert shell.commands == ["ls"] and sent_tools == ["bash", "submit"]
    errors = [result.error for _, _, result in shell.recorded]
    assert errors[1] == "no tool call" and "send the arguments as a JSON object" in (errors[2] or "")
    assert errors[3] == "error: there is no tool 'rm_rf'; the tools are bash, submit"
    roles = [message.role for message in loop.messages]
    assert roles == ["user", "assistant", "tool", "assistant", "user", "assistant", "tool"] + ["assistant", "tool"] * 2
    assert loop.messages[4] == user_message("call a tool")


def test_each_budget_ends_the_conversation_with_its_own_reason() -> None:
    with ScriptedModelServer([], then=tool_reply("bash", {"command": "true"}, prompt_tokens=400)) as server:
        by_steps = loop_for(server, Shell(), Limits(3, 100_000, 60)).run()
        by_tokens = loop_for(server, Shell(), Limits(50, 1_000, 60)).run()
    assert (by_steps.reason, by_steps.detail, by_steps.steps) == ("step_limit", "3 model turns", 3)
    assert (by_tokens.reason, by_tokens.detail, by_tokens.steps) == ("token_limit", "1000 tokens", 3)


def test_a_refused_conversation_ends_with_the_servers_words() -> None:
    with ScriptedModelServer([HttpError(400, "maximum context length exceeded")]) as server:
        end = loop_for(server, Shell()).run()
    assert end.reason == "model_error" and "maximum context length exceeded" in end.detail and end.steps == 0


def test_the_stages_end_rule_is_checked_after_every_turn() -> None:
    shell = Shell()
    rule = lambda: ("repeated_failure", "ls failed twice") if len(shell.commands) >= 2 else None  # noqa: E731
    with ScriptedModelServer([], then=tool_reply("bash", {"command": "ls"})) as server:
        end = loop_for(server, shell, end_rule=rule).run()
    assert (end.reason, end.stage_reason, end.detail) == ("stopped", "repeated_failure", "ls failed twice")
    assert end.steps == 2


def test_a_turn_with_several_calls_counts_its_tokens_once_and_stops_at_submit() -> None:
    shell = Shell()
    reply = Reply(
        tool_calls=(
            *tool_reply("bash", {"command": "a"}).tool_calls,
            *tool_reply("submit", {}).tool_calls,
            *tool_reply("bash", {"command": "never"}).tool_calls,
        )
    )
    with ScriptedModelServer([reply]) as server:
        end = loop_for(server, shell).run()
    assert end.reason == "submitted" and shell.commands == ["a"]
    assert [carries_reply for carries_reply, _, _ in shell.recorded] == [True, False]


def test_the_text_format_runs_the_first_fenced_block_and_finishes_on_done() -> None:
    shell = Shell()
    script = [
        Reply(content="<think>```bash\nrm -rf /\n```</think>Let me look.\n```bash\nls /repo\n```\n```sh\npwd\n```"),
        Reply(content="Nothing to run here."),
        Reply(content="All fixed.\nDONE"),
    ]
    with ScriptedModelServer(script) as server:
        loop = loop_for(server, shell, text_format=True)
        end = loop.run()
        assert "tools" not in server.requests[0]
    assert end.reason == "submitted" and shell.commands == ["ls /repo"]
    assert loop.messages[2] == user_message(
        "ran ls /repo\n(only the first code block was run; send one command per reply)"
    )
    assert loop.messages[4] == user_message("send a block")
    assert [result.error for _, _, result in shell.recorded] == [None, "no command block", None]
