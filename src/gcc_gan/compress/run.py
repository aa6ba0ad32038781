"""`gcc-gan compress`: a trained generator to compiled budgets, by once-for-all distillation,
search and fine-tuning, with the comparisons that say what it cost.

DIR/
  compress.json            the run's settings and status (read by --resume)
  checkpoints/step-N/      the supernet (atomic; exact resume); budget-LABEL.json: finished budgets
  budget-LABEL/            the winning student compiled (verified: interpreter, standalone, onnxruntime, .pt2)
  student_LABEL.json       its genotype
  samples_LABEL.png        teacher | distilled | narrowed | alone | from scratch, same latents
  compress.csv, quality_vs_macs.png, report.json

Everything a run computes is a function of the settings and the seed (latents, students and
real batches are drawn from generators seeded per use), so a run killed at any moment and
resumed with --resume writes the same students, byte for byte.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

from ..atomic import atomic_write_text
from .plan import SETTINGS, CompressRequest, plan, settings_doc


def compress(req: CompressRequest, console: Any) -> dict[str, Any]:
    """Run (or resume) a compress job; returns report.json's content."""
    p = plan(req)
    from .pipeline import Pipeline

    req = p.req
    if req.threads is not None:
        import torch

        torch.set_num_threads(req.threads)
    pipe = Pipeline(p, console)  # loads the teacher's weights: a mismatch fails before anything is written
    if not req.resume:
        if req.out.exists():
            shutil.rmtree(req.out) if req.out.is_dir() else req.out.unlink()
        req.out.mkdir(parents=True)
    atomic_write_text(req.out / SETTINGS, json.dumps(settings_doc(req, p.cfg, "running"), indent=1) + "\n")
    report = pipe.run()
    atomic_write_text(req.out / SETTINGS, json.dumps(settings_doc(req, p.cfg, "done"), indent=1) + "\n")
    return report
