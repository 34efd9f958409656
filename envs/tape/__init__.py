"""Tape machines (in the spirit of Manufactoria): the language, the tasks, the environment."""

from envs.tape.dsl import Program, Run, parse, run
from envs.tape.env import TapeMachine, extract_program
from envs.tape.tasks import FAMILIES, SIMPLE, TapeTask, make_task, reference_program

__all__ = [
    "FAMILIES",
    "SIMPLE",
    "Program",
    "Run",
    "TapeMachine",
    "TapeTask",
    "extract_program",
    "make_task",
    "parse",
    "reference_program",
    "run",
]
