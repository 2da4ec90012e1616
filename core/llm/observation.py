"""What a model sees of a command it ran: how it ended and its output, cut to a budget (head and tail)."""

from __future__ import annotations

from cligym.sandbox import ExecResult


def clip(text: str, budget: int) -> str:
    """``text`` cut to about ``budget`` bytes, keeping its head and its tail (where errors usually are)."""
    data = text.encode()
    if len(data) <= budget:
        return text
    half = budget // 2
    head = data[:half].decode(errors="ignore")
    tail = data[-half:].decode(errors="ignore")
    return f"{head}\n[... {len(data) - 2 * half} bytes cut ...]\n{tail}"


def command_observation(result: ExecResult, budget: int) -> str:
    """What the model sees of one command: how it ended and its output."""
    status = (
        f"killed after {result.duration_s:.0f} s (timeout)" if result.timed_out else f"exit code {result.exit_code}"
    )
    parts = [status]
    if result.stdout.strip():
        parts.append("stdout:\n" + result.stdout.rstrip())
    if result.stderr.strip():
        parts.append("stderr:\n" + result.stderr.rstrip())
    if len(parts) == 1:
        parts.append("(no output)")
    return clip("\n".join(parts), budget)
