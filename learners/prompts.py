"""Prompt construction: the student's conversation and the self-teacher's privileged context.

The teacher scores the student's own tokens; only the first user message differs: it holds
the task followed by privileged sections. In a multi-turn episode each turn's completion is
scored in its own context, so the teacher context of turn k is the student's conversation of
turn k with that first message replaced.
"""

from __future__ import annotations

from chat import Conversation, strip_thinking


def student_task(task: str, context: str = "") -> str:
    """The student's first message: the task, after an optional shared context (ablations)."""
    return f"{context.strip()}\n\n{task}" if context.strip() else task


def sdpo_teacher_task(
    task: str, *, feedback: str | None = None, solution: str | None = None
) -> str:
    """SDPO's teacher message: a correct solution if one exists, else the failure feedback."""
    parts = [task]
    if solution:
        parts.append(f"Correct solution:\n{solution}")
    elif feedback:
        parts.append(
            f"The following is feedback from your unsuccessful earlier attempt:\n{feedback}"
        )
    parts.append("Correctly solve the original question.")
    return "\n\n".join(parts)


def resd_teacher_task(
    task: str,
    *,
    playbook: str | None = None,
    previous_trial: str | None = None,
    feedback: str | None = None,
    reflection: str | None = None,
    solution: str | None = None,
) -> str:
    """RESD's sectioned teacher message (docs/METHOD.md section 4.7), in the paper's order.

    The environment feedback is dropped when a successful trial is available; empty sections
    are left out.
    """
    sections = [task]
    if playbook:
        sections.append(f"PLAYBOOK:\n{playbook}")
    if previous_trial:
        sections.append(f"PREVIOUS TRIAL:\n{strip_thinking(previous_trial)}")
    if feedback and not solution:
        sections.append(f"ENVIRONMENT FEEDBACK:\n{feedback}")
    if reflection:
        sections.append(f"REFLECTION:\n{reflection}")
    if solution:
        sections.append(f"SUCCESSFUL TRIAL:\n{strip_thinking(solution)}")
    sections.append(
        "Using the playbook, the previous trial and its feedback, the reflection and any "
        "successful trial above, answer the original task correctly."
    )
    return "\n\n".join(sections)


def with_first_message(messages: Conversation, content: str) -> Conversation:
    """A copy of ``messages`` whose first user message is replaced by ``content``."""
    out = [dict(m) for m in messages]
    for m in out:
        if m["role"] == "user":
            m["content"] = content
            break
    return out
