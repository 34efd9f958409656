"""The run directory's one owner: its layout, typed records, writers, readers, lock and resume.

A run directory, as ``python -m benchmarks.run`` writes it::

    RUN_DIR/
      config.json     resolved config: env, env_knobs, learner, learner_config, model, seed,
                      budget, batch_tasks, inner_steps, eval_every, eval_tasks, eval_k, ...,
                      config_key (``rundir.key``: the hash that identifies what it measures),
                      versions {python, torch, transformers}, git_commit (str or null)
      episodes.jsonl  one line per training episode (EpisodeRecord, the full transcript)
      updates.jsonl   one line per optimiser step (UpdateRecord: runner fields + metrics)
      evals.jsonl     one line per held-out evaluation (EvalRecord); the first at samples=0
      playbook.json, playbook_history.jsonl
                      reflection learners: the latest playbook, one line per update step
      summary.json    when the run finished (SummaryRecord)
      checkpoint.pt   training state and each log's length; tensors and plain containers only
      curves.png      the run's curves
      .lock           held (flock) by the process writing the run

Every log line carries a checksum of itself (``rundir.jsonl``), JSON files are replaced
atomically (``rundir.atomic``), and resuming cuts the logs back to the checkpoint
(``rundir.directory``). This package sits below everything else (it imports nothing from the
suite): the runner writes through it, reflection records its playbook through it, and the
plots, compare and the leaderboard read through it.
"""

from rundir.atomic import write_atomic, write_json_atomic
from rundir.directory import Checkpoint, RunDir, load_checkpoint
from rundir.errors import RunDirError
from rundir.jsonl import read_log
from rundir.key import NON_RESULT_KEYS, config_key
from rundir.layout import (
    CHECKPOINT,
    CONFIG,
    CURVES,
    EPISODES,
    EVALS,
    LOGS,
    PLAYBOOK,
    PLAYBOOK_HISTORY,
    SUMMARY,
    UPDATES,
)
from rundir.read import (
    RunRecord,
    read_config,
    read_evals,
    read_json_object,
    read_run,
    read_summary,
)
from rundir.records import EpisodeRecord, EvalRecord, SummaryRecord, TurnRecord, UpdateRecord

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "CURVES",
    "EPISODES",
    "EVALS",
    "LOGS",
    "NON_RESULT_KEYS",
    "PLAYBOOK",
    "PLAYBOOK_HISTORY",
    "SUMMARY",
    "UPDATES",
    "Checkpoint",
    "EpisodeRecord",
    "EvalRecord",
    "RunDir",
    "RunDirError",
    "RunRecord",
    "SummaryRecord",
    "TurnRecord",
    "UpdateRecord",
    "config_key",
    "load_checkpoint",
    "read_config",
    "read_evals",
    "read_json_object",
    "read_log",
    "read_run",
    "read_summary",
    "write_atomic",
    "write_json_atomic",
]
