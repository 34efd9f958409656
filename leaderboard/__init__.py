"""Leaderboard: the store of finished runs and the comparison table."""
