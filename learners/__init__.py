"""Learners (GRPO, self-distillation, RESD) and the model layer they train."""
