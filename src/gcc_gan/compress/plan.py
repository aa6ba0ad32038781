"""The checked plan of a `gcc-gan compress` run (request, settings, budgets, teacher; no torch,
nothing written), and what the pipeline stamps on a student (its genotype, the teacher's cost)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bench.budget import Budget
from ..compiler.cost import compiled_cost
from ..errors import GccGanError
from ..genotype_dsl.model import Genotype, Network, Provenance
from .config import CompressConfig, make_config
from .teacher import TeacherSpec, check_generator, resolve_teacher

RUN_FORMAT = 1
SETTINGS = "compress.json"


@dataclass
class CompressRequest:
    out: Path
    teacher: str | None = None  # GENOTYPE | zoo:NAME | RUN (optional with resume)
    weights: Path | None = None
    width: float | None = None
    fractions: list[float] | None = None  # --budgets
    max_macs: int | None = None
    max_params: int | None = None
    max_latency_ms: float | None = None
    data: str | None = None
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    inception_weights: str | None = None
    threads: int | None = None  # CPU threads; kept by --resume (float reductions differ with the thread count)
    resume: bool = False
    force: bool = False


@dataclass
class Plan:
    """Everything checked before DIR is touched."""

    req: CompressRequest
    cfg: CompressConfig
    teacher: TeacherSpec
    budgets: list[tuple[str, Budget]]


def parse_budgets(text: str | None) -> list[float] | None:
    if text is None:
        return None
    out = []
    for part in text.split(","):
        try:
            f = float(part)
        except ValueError:
            raise GccGanError(f"--budgets {text!r}: {part!r} is not a number; give fractions of the teacher's "
                              "compiled MACs, e.g. 0.5,0.25,0.1") from None
        if not 0 < f <= 1 or not math.isfinite(f):
            raise GccGanError(f"--budgets {text!r}: {part} is not a fraction in (0, 1] of the teacher's compiled MACs")
        out.append(f)
    if len(set(out)) != len(out):
        raise GccGanError(f"--budgets {text!r}: a budget is repeated")
    return out


def _budgets(req: CompressRequest, teacher_macs: int) -> list[tuple[str, Budget]]:
    if req.fractions and req.max_macs is not None:
        raise GccGanError("give either --budgets (fractions of the teacher's compiled MACs) or --max-macs, not both")
    if not req.fractions and req.max_macs is None and req.max_params is None and req.max_latency_ms is None:
        raise GccGanError("no budget: give --budgets 0.5,0.25 (fractions of the teacher's compiled MACs), "
                          "--max-macs M, --max-params P or --max-latency T")
    rest = dict(max_params=req.max_params, max_latency_ms=req.max_latency_ms, latency_backend="onnxruntime")
    if req.fractions:
        return [(f"{f:g}", Budget(max_macs=int(f * teacher_macs), **rest)) for f in req.fractions]
    return [("max", Budget(max_macs=req.max_macs, **rest))]


def settings_doc(req: CompressRequest, cfg: CompressConfig, status: str) -> dict[str, Any]:
    return {"format": RUN_FORMAT, "status": status, "teacher": req.teacher,
            "weights": None if req.weights is None else str(req.weights), "width": req.width,
            "budgets": req.fractions, "max_macs": req.max_macs, "max_params": req.max_params,
            "max_latency_ms": req.max_latency_ms, "data": req.data, "preset": req.preset,
            "inception_weights": req.inception_weights, "threads": req.threads, "config": cfg.to_dict()}


def _from_settings(req: CompressRequest) -> CompressRequest:
    """--resume: the run's own settings; a setting given again must be the same."""
    path = req.out / SETTINGS
    if not path.is_file():
        raise GccGanError(f"--resume: {req.out} is not a compress run (no {SETTINGS}); start it without --resume")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        stored = CompressRequest(out=req.out, teacher=doc["teacher"],
                                 weights=None if doc["weights"] is None else Path(doc["weights"]),
                                 width=doc["width"], fractions=doc["budgets"], max_macs=doc["max_macs"],
                                 max_params=doc["max_params"], max_latency_ms=doc["max_latency_ms"],
                                 data=doc["data"], preset=doc["preset"], overrides=doc["config"],
                                 inception_weights=doc.get("inception_weights"),
                                 threads=req.threads if req.threads is not None else doc.get("threads"), resume=True)
    except (KeyError, TypeError, ValueError) as e:
        raise GccGanError(f"--resume: {path} is damaged ({e}); start over with --force") from None
    for name in ("teacher", "weights", "width", "fractions", "max_macs", "max_params", "max_latency_ms", "data"):
        given, kept = getattr(req, name), getattr(stored, name)
        if given is not None and given != kept:
            flag = {"fractions": "--budgets", "teacher": "TEACHER"}.get(name, "--" + name.replace("_", "-"))
            raise GccGanError(f"--resume: {flag} {given} differs from the run's {kept}; leave it out to resume "
                              "(or start over with --force)")
    return stored


def plan(req: CompressRequest) -> Plan:
    """Check every input (no torch, nothing written)."""
    from ..train.data import parse_data_spec

    if req.resume:
        if req.force:
            raise GccGanError("--resume and --force contradict each other: --resume continues the run in -o, "
                              "--force deletes it")
        req = _from_settings(req)
        cfg = CompressConfig.from_dict(req.overrides).validate()
    else:
        if req.teacher is None:
            raise GccGanError("missing TEACHER: a training run, a genotype FILE or zoo:NAME (with --weights)")
        if req.out.exists() and not req.force:
            what = "a compress run" if (req.out / SETTINGS).is_file() else "a file or directory"
            raise GccGanError(f"-o {req.out}: {what} already exists; add --resume to continue it or --force to "
                              "start over")
        if req.force and req.out.exists() and not (req.out / SETTINGS).is_file() and (
                req.out.is_file() or any(req.out.iterdir())):
            raise GccGanError(f"-o {req.out}: not a compress run; --force deletes only compress runs")
        cfg = make_config(req.preset, req.overrides)
    if req.data is not None:
        parse_data_spec(req.data)
    teacher = resolve_teacher(req.teacher or "", req.weights, req.width)
    assert teacher.genotype.generator is not None
    t_cost = compiled_cost(teacher.genotype.generator)
    budgets = _budgets(req, t_cost.macs)
    _check_floor(teacher.genotype.generator, budgets)
    return Plan(req, cfg, teacher, budgets)


def _check_floor(teacher: Network, budgets: list[tuple[str, Budget]]) -> None:
    from .space import StudentSpace

    smallest = StudentSpace(teacher)
    floor = compiled_cost(smallest.network(smallest.smallest()))
    for label, b in budgets:
        if (b.max_macs is not None and floor.macs > b.max_macs) or (b.max_params is not None
                                                                    and floor.params > b.max_params):
            raise GccGanError(f"budget {label} ({b.describe()}) is below the student space's floor: its smallest "
                              f"student compiles to {floor.macs:,} MACs and {floor.params:,} parameters")


def student_genotype(teacher: Genotype, net: Network, label: str, cfg: CompressConfig, score: float) -> Genotype:
    name = f"{teacher.name or 'generator'}-compressed-{label}"
    prov = Provenance(searcher="compress", dataset=teacher.provenance.dataset, seed=cfg.seed,
                      metrics={cfg.metric: score} if math.isfinite(score) else {},
                      notes=f"distilled from {teacher.name or 'the teacher'} by gcc-gan compress (budget {label})")
    return Genotype(name=name, generator=net, provenance=prov)


def check_teacher(t: TeacherSpec) -> tuple[int, int]:
    assert t.genotype.generator is not None
    return check_generator(t.genotype.generator, t.source)
