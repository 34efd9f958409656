"""Teacher-prompt construction, section by section, on a crafted trajectory."""

from __future__ import annotations

from learners.prompts import (
    resd_teacher_task,
    sdpo_teacher_task,
    strip_thinking,
    student_task,
    with_first_message,
)

TASK = "Guess the word. Answer as [word]."
ORDER = [
    "PLAYBOOK:",
    "PREVIOUS TRIAL:",
    "ENVIRONMENT FEEDBACK:",
    "REFLECTION:",
    "SUCCESSFUL TRIAL:",
]


def positions(text):
    return [text.find(h) for h in ORDER]


def test_resd_all_sections_in_paper_order_feedback_dropped_with_solution():
    full = resd_teacher_task(
        TASK,
        playbook="[str-00001] helpful=1 harmful=0 :: use greens",
        previous_trial="<think>hmm</think>[crane]",
        feedback="C R A N E\nX X X X X",
        reflection="Key insight: avoid absent letters",
        solution="[claim]",
    )
    assert full.startswith(TASK)
    assert "ENVIRONMENT FEEDBACK:" not in full  # dropped when a solution is available
    idx = [i for i in positions(full) if i >= 0]
    assert idx == sorted(idx) and len(idx) == 4
    assert "<think>" not in full and "PREVIOUS TRIAL:\n[crane]" in full
    assert full.rstrip().endswith("answer the original task correctly.")


def test_resd_without_solution_keeps_feedback_and_skips_empty_sections():
    text = resd_teacher_task(TASK, previous_trial="[crane]", feedback="X X X X X")
    assert "ENVIRONMENT FEEDBACK:\nX X X X X" in text
    for absent in ("PLAYBOOK:", "REFLECTION:", "SUCCESSFUL TRIAL:"):
        assert absent not in text
    with_reflection = resd_teacher_task(
        TASK, previous_trial="[crane]", feedback="fb", reflection="root cause: ignored marks"
    )
    assert with_reflection.index("ENVIRONMENT FEEDBACK:") < with_reflection.index("REFLECTION:")
    with_playbook = resd_teacher_task(
        TASK, playbook="[str-00001] helpful=0 harmful=0 :: x", feedback="fb"
    )
    assert with_playbook.index("PLAYBOOK:") < with_playbook.index("ENVIRONMENT FEEDBACK:")


def test_sdpo_solution_first_then_feedback_fallback():
    with_solution = sdpo_teacher_task(TASK, feedback="wrong", solution="[claim]")
    assert "Correct solution:\n[claim]" in with_solution and "wrong" not in with_solution
    with_feedback = sdpo_teacher_task(TASK, feedback="wrong")
    assert "feedback from your unsuccessful earlier attempt:\nwrong" in with_feedback
    assert with_feedback.endswith("Correctly solve the original question.")


def test_first_message_replacement_keeps_the_turns():
    messages = [
        {"role": "user", "content": TASK},
        {"role": "assistant", "content": "[crane]"},
        {"role": "user", "content": "X X X X X"},
    ]
    teacher = with_first_message(messages, "PRIVILEGED")
    assert teacher[0]["content"] == "PRIVILEGED" and teacher[1:] == messages[1:]
    assert messages[0]["content"] == TASK  # the student's conversation is untouched


def test_student_task_and_thinking():
    assert student_task(TASK) == TASK
    assert student_task(TASK, "PLAYBOOK:\nx").startswith("PLAYBOOK:\nx\n\n")
    assert strip_thinking("<think>a\nb</think> [x]") == "[x]"
    assert strip_thinking("<think>never closed [x]") == ""
