import pytest

from learners.models.packing import Placement, nest_prefixes


def test_turns_of_one_episode_share_the_last_row():
    turn1 = [1, 2, 3, 4]  # prompt 1 2 3, completion 4
    turn2 = [1, 2, 3, 4, 5, 6, 7]  # ... observation 5 6, completion 7
    turn3 = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    rows, places = nest_prefixes([turn1, turn2, turn3], [3, 6, 8])
    assert rows == [turn3]
    assert places == [Placement(0, 3, 4), Placement(0, 6, 7), Placement(0, 8, 9)]


def test_unrelated_and_diverging_sequences_keep_their_own_rows():
    a, b = [1, 2, 3], [1, 2, 4, 5]  # b diverges from a at token 3: not a prefix
    c = [9, 9]
    rows, places = nest_prefixes([a, b, c], [2, 2, 1])
    assert rows == [a, b, c]
    assert [p.row for p in places] == [0, 1, 2]


def test_duplicates_and_order_of_first_appearance():
    long, short = [5, 6, 7, 8], [5, 6]
    rows, places = nest_prefixes([short, long, short, [5, 6, 7, 8]], [1, 2, 1, 3])
    assert rows == [long]  # the longest carrier; its duplicate rides along
    assert places == [
        Placement(0, 1, 2),
        Placement(0, 2, 4),
        Placement(0, 1, 2),
        Placement(0, 3, 4),
    ]
    rows, _ = nest_prefixes([[3], [1, 2], [1]], [1, 1, 1])
    assert rows == [[3], [1, 2]]  # rows in the order their items first appear


def test_bad_starts_are_clear_errors():
    with pytest.raises(ValueError, match="outside"):
        nest_prefixes([[1, 2]], [0])  # an empty prompt: nothing to condition on
    with pytest.raises(ValueError, match="outside"):
        nest_prefixes([[1, 2]], [3])
    with pytest.raises(ValueError, match="starts"):
        nest_prefixes([[1, 2]], [1, 1])
    assert nest_prefixes([], []) == ([], [])
