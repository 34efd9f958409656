"""Bouncing balls (in the spirit of BouncingSim): reference physics and the environment."""

from envs.bouncing.env import BouncingBalls, check_source, extract_code
from envs.bouncing.physics import Ball, closed_form, simulate

__all__ = ["Ball", "BouncingBalls", "check_source", "closed_form", "extract_code", "simulate"]
