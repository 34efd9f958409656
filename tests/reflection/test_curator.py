"""Curator: operation parsing, the paper's ADD-only mode, and the switches beyond it."""

import pytest

from reflection.curator import CurationStats, Curator, parse_operations
from reflection.playbook import Playbook
from reflection.reflector import Reflection


def test_parse_operations_shapes():
    ops, bad, ok = parse_operations(
        'Sure:\n{"reasoning": "x", "operations": [{"type": "ADD", "section": "others", '
        '"content": "a\\nb"}, {"type": "remove", "bullet_id": "[STR-00001]"}, '
        '{"type": "DELETE"}, 7, {"section": "others", "text": "bare add"}]}'
    )
    assert ok and bad == 2
    assert [(o.kind, o.content, o.bullet_ids) for o in ops] == [
        ("ADD", "a b", []),
        ("REMOVE", "", ["str-00001"]),
        ("ADD", "bare add", []),
    ]
    ops, bad, ok = parse_operations('[{"type": "ADD", "content": "listed"}]')
    assert ok and [o.content for o in ops] == ["listed"]
    assert parse_operations("no idea") == ([], 0, False)
    assert parse_operations('{"operations": "none"}') == ([], 0, True)


def test_add_only_is_paper_default():
    pb = Playbook()
    old = pb.add("others", "old lesson", 0)
    cur = Curator()
    ops, _, _ = parse_operations(
        '{"operations": [{"type": "ADD", "section": "Common Mistakes to Avoid", "content": "new"},'
        ' {"type": "REMOVE", "bullet_id": "misc-00001"}, {"type": "ADD", "content": ""},'
        ' {"type": "ADD", "section": "others", "content": "old lesson"}]}'
    )
    stats = CurationStats()
    cur.apply(pb, ops, 3, stats)
    assert old.id in pb
    assert [b.text for b in stats.added] == ["new", "old lesson"]  # duplicates allowed (paper)
    assert stats.added[0].section == "common mistakes to avoid"
    assert stats.added[0].created_step == 3
    assert stats.dropped_ops == 2


def test_update_remove_merge_switches():
    pb = Playbook()
    a = pb.add("others", "first", 0)
    b = pb.add("others", "second", 0)
    c = pb.add("others", "third", 0)
    a.helpful, b.helpful, b.last_used = 1, 2, 4
    cur = Curator(ops=("ADD", "UPDATE", "REMOVE", "MERGE"))
    ops, _, _ = parse_operations(
        '{"operations": [{"type": "UPDATE", "bullet_id": "misc-00003", "content": "3rd"},'
        ' {"type": "MERGE", "bullet_ids": ["misc-00001", "misc-00002"], "content": "both"},'
        ' {"type": "REMOVE", "bullet_id": "misc-00404"},'
        ' {"type": "MERGE", "bullet_ids": ["misc-00001"]}]}'
    )
    stats = CurationStats()
    cur.apply(pb, ops, 5, stats)
    assert list(pb.bullets) == ["misc-00001", "misc-00003"]
    assert (a.text, a.helpful, a.last_used) == ("both", 3, 4)
    assert c.text == "3rd"
    assert stats.removed == [("misc-00002", "merged into misc-00001")]
    assert stats.dropped_ops == 2


@pytest.mark.parametrize("method", ["difflib", "jaccard"])
def test_near_duplicate_adds_skipped_when_on(method):
    pb = Playbook()
    pb.add("others", "Never reuse a letter that feedback marked absent.", 0)
    ops, _, _ = parse_operations(
        '{"operations": [{"type": "ADD", "content": "never reuse a letter that the feedback '
        'marked absent"}, {"type": "ADD", "content": "Start with a word with common vowels."}]}'
    )
    on, off = CurationStats(), CurationStats()
    Curator(merge_duplicates=True, similarity=method, threshold=0.7).apply(pb, ops, 1, on)
    assert on.duplicates == 1 and [b.text for b in on.added] == [
        "Start with a word with common vowels."
    ]
    Curator(merge_duplicates=False).apply(Playbook(), ops, 1, off)
    assert off.duplicates == 0 and len(off.added) == 2


def test_update_into_duplicate_merges():
    pb = Playbook()
    a = pb.add("others", "check every constraint before answering", 0)
    b = pb.add("others", "something else", 0)
    b.helpful = 2
    cur = Curator(ops=("ADD", "UPDATE"), merge_duplicates=True)
    ops, _, _ = parse_operations(
        '{"operations": [{"type": "UPDATE", "bullet_id": "misc-00002",'
        ' "content": "Check every constraint before answering."}]}'
    )
    stats = CurationStats()
    cur.apply(pb, ops, 2, stats)
    assert list(pb.bullets) == [a.id] and a.helpful == 2
    assert stats.removed == [(b.id, f"merged into {a.id}")]


def test_prompt_contents():
    pb = Playbook()
    pb.add("others", "an old lesson", 0)
    ref = Reflection(error_identification="e", key_insight="k", status="partial")
    body = Curator().prompt(ref, "the task", pb)[0]["content"]
    assert "NOT see this task's feedback" in body and "non" not in body.split("ADD")[0][:0]
    assert "Error: e" in body and "[misc-00001]" in body and '"type": "ADD"' in body
    assert "UPDATE" not in body
    full = Curator(ops=("ADD", "MERGE")).prompt(ref, "t", pb)[0]["content"]
    assert '"type": "MERGE"' in full


def test_bad_config():
    with pytest.raises(ValueError, match="must include ADD"):
        Curator(ops=("REMOVE",))
    with pytest.raises(ValueError, match="threshold"):
        Curator(threshold=0)


def test_single_op_and_nothing_proposed():
    ops, bad, ok = parse_operations('{"type": "ADD", "content": "alone"}')
    assert ok and bad == 0 and [o.content for o in ops] == ["alone"]
    assert parse_operations('{"reasoning": "the playbook covers it"}') == ([], 0, True)
