"""The phases of a compress run: supernet, then per budget search → fine-tune → compile →
comparisons, then the report (see compress/run.py for the directory it writes)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..atomic import atomic_write_text
from ..bench.budget import Budget, measure_latency
from ..checkpoints import clean_partial, console_warner, load_newest
from ..compiler.cost import Cost, compiled_cost
from ..compiler.interpreter import Interpreter
from ..compiler.pipeline import load_weights
from ..console import progress
from ..errors import GccGanError
from ..genotype_dsl.analysis import analyze
from ..genotype_dsl.io import save_genotype
from ..genotype_dsl.model import Network
from ..seeding import mix_seed
from ..train.images import save_panels
from . import report as rep
from .baselines import data_reals, narrowest_within, teacher_reals, train_from_scratch
from .distill import (
    SEARCH,
    Supernet,
    Teacher,
    concrete_student,
    finetune,
    generate,
    image_only,
    recalibrate,
)
from .plan import Plan, check_teacher, student_genotype
from .quality import Scorer, metric_latents, psnr, psnr_latents, reference_images
from .search import RandomEvolution, run_search
from .shared import SharedWeights, matched_nodes, probe
from .space import Arch, StudentSpace
from .teacher import default_discriminator, load_teacher_weights

LATENCY_BATCHES = (1, 64)


class Pipeline:
    def __init__(self, plan: Plan, console: Any) -> None:
        self.plan, self.cfg, self.console = plan, plan.cfg, console
        self.out = plan.req.out
        t = plan.teacher
        g = t.genotype.generator
        assert g is not None
        self.teacher_net: Network = g
        self.latent_dim, self.size = check_teacher(t)
        self.space = StudentSpace(g)
        self.nodes = matched_nodes(g)
        g_state, d_state, self.no_d = load_teacher_weights(t)
        plain = Interpreter(g, what="teacher generator")
        load_weights(plain, g_state, what=f"--weights {t.weights}")
        self.teacher_state = {k: v.detach().clone() for k, v in plain.state_dict().items()}
        tp = Interpreter(analyze(probe(g, self.nodes), "generator", role="generator"), what="teacher generator")
        tp.load_state_dict(self.teacher_state)
        d = None
        if d_state is not None and t.genotype.discriminator is not None:
            dnet = default_discriminator(t, self.size)
            try:
                d = Interpreter(dnet, what="teacher discriminator")
                load_weights(d, d_state, what=f"--weights {t.weights} (discriminator)")
                d.eval().requires_grad_(False)
            except GccGanError as e:
                d, self.no_d = None, str(e)
        self.teacher = Teacher(tp.eval(), self.latent_dim, d)
        self.teacher_image = image_only(self.teacher.net)
        self.dataset = None
        if plan.req.data is not None:
            from ..train.data import load_dataset

            self.dataset = load_dataset(plan.req.data, self.size)
        self.ck_root = self.out / "checkpoints"
        self._latency: dict[str, dict[int, float]] = {}

    # ------------------------------------------------------------------ helpers
    def say(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def latency(self, net: Network) -> dict[int, float]:
        key = net.model_dump_json()
        if key not in self._latency:
            self._latency[key] = ({b: measure_latency(net, "onnxruntime", batch=b, budget_s=0.5) for b in LATENCY_BATCHES}
                                  if self.cfg.latency else {})
        return self._latency[key]

    def fits(self, budget: Budget) -> Callable[[Arch], bool]:
        def ok(arch: Arch) -> bool:
            return budget.fits(budget.cost(self.space.network(arch)))
        return ok

    # ------------------------------------------------------------------ phases
    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        self.say(f"teacher: {self.plan.teacher.source} ({compiled_cost(self.teacher_net).macs:,} compiled MACs); "
                 f"student space: {len(self.space.groups)} channel groups, {len(self.space.sites)} op sites, "
                 f"{len(self.space.droppable)} side edges ({self.space.size():.3g} students)")
        if self.teacher.d is None:
            self.say(f"no adversarial term: {self.no_d}")
        shared = SharedWeights(self.space, self.teacher_state, self.nodes)
        sn = Supernet(shared, self.teacher, cfg)
        self.train_supernet(sn)
        reference = reference_images(cfg, self.teacher_image, self.latent_dim, self.dataset)
        scorer = Scorer(cfg, reference, self.plan.req.inception_weights)
        z_metric, z_psnr = metric_latents(cfg, self.latent_dim), psnr_latents(cfg, self.latent_dim)
        t_metric_imgs = generate(self.teacher_image, z_metric)
        t_psnr_imgs = generate(self.teacher_image, z_psnr)
        t_cost = compiled_cost(self.teacher_net)
        teacher_row = {"budget": "", "method": "teacher", "compiled_macs": t_cost.macs, "stored_params": t_cost.params,
                       **self._lat_cols(self.teacher_net), "psnr_db": math.inf, "metric": cfg.metric,
                       "value": scorer.score(t_metric_imgs), "image_iterations": None,
                       "genotype": self.plan.teacher.source}
        rows = [teacher_row]
        results = []
        for b, (label, budget) in enumerate(self.plan.budgets):
            res = self.budget(b, label, budget, sn.shared, scorer, z_metric, z_psnr, t_psnr_imgs)
            results.append(res)
            rows += res["rows"]
        rep.write_csv(rows, self.out / "compress.csv")
        source = self.plan.req.data or "the teacher's own samples"
        rep.plot_quality(rows, cfg.metric, self.out / "quality_vs_macs.png",
                         f"{self.plan.teacher.genotype.name or 'teacher'}: {cfg.metric.upper()} vs {source} "
                         f"({cfg.num_samples} images)")
        doc = {
            "teacher": {"source": self.plan.teacher.source, "weights": str(self.plan.teacher.weights),
                        "compiled": t_cost.to_json(), "adversarial_term": self.teacher.d is not None},
            "metric": {"name": cfg.metric, "reference": source, "num_samples": cfg.num_samples,
                       "psnr_latents": cfg.eval_samples},
            "space": {"groups": [list(g) for g in self.space.groups], "sites": len(self.space.sites),
                      "side_edges": len(self.space.droppable), "size": self.space.size(),
                      "matched_nodes": self.nodes},
            "config": cfg.to_dict(), "rows": rows, "budgets": results,
        }
        rep.write_json(doc, self.out / "report.json")
        return doc

    def train_supernet(self, sn: Supernet) -> None:
        cfg = self.cfg
        clean_partial(self.ck_root)
        got = load_newest(self.ck_root, sn.restore, console_warner(self.console))
        if got is not None:
            self.say(f"resumed the supernet at step {sn.step}")
        if sn.step >= cfg.iters:
            return
        with progress("supernet (sandwich distillation)", cfg.iters, completed=sn.step, console=self.console) as task:
            while sn.step < cfg.iters:
                loss = sn.train_step()
                task.update(completed=sn.step, stats=f"loss {loss:.3f}")
                if sn.step % cfg.checkpoint_every == 0 or sn.step == cfg.iters:
                    sn.save(self.ck_root)

    def _lat_cols(self, net: Network) -> dict[str, float | None]:
        lat = self.latency(net)
        return {"latency_ms_b1": lat.get(1), "latency_ms_b64": lat.get(64)}

    def budget(self, b: int, label: str, budget: Budget, shared: SharedWeights, scorer: Scorer, z_metric: Tensor,
               z_psnr: Tensor, t_psnr_imgs: Tensor) -> dict[str, Any]:
        cfg = self.cfg
        done = self.ck_root / f"budget-{label}.json"
        compiled_dir = self.out / f"budget-{label}"
        if done.is_file() and (compiled_dir / "report.json").is_file():
            self.say(f"budget {label}: done before (kept)")
            return json.loads(done.read_text(encoding="utf-8"))
        rng = np.random.default_rng(mix_seed(cfg.seed, SEARCH, b))
        strategy = RandomEvolution(self.space, self.fits(budget), rng, cfg.population)

        def evaluate(arch: Arch) -> float:
            built = shared.student(arch)
            state, _ = shared.concrete(built)
            net = recalibrate(concrete_student(built[0], state), cfg, self.latent_dim, tag=0)
            return scorer.score(generate(image_only(net), z_metric))

        with progress(f"budget {label}: searching ({budget.describe()})", cfg.evaluations,
                      console=self.console) as task:
            arch, score, history = run_search(strategy, evaluate, cfg.evaluations,
                                              lambda k, a, s: task.update(completed=k, stats=f"{cfg.metric} {s:.2f}"))
        built = shared.student(arch)
        state, projs = shared.concrete(built)
        iters = cfg.iters + cfg.finetune_iters
        with progress(f"budget {label}: fine-tuning the winner", cfg.finetune_iters, console=self.console) as task:
            student = finetune(concrete_student(built[0], state), projs, self.teacher, cfg, cfg.finetune_iters,
                               tag=100 + b, on_step=lambda k: task.update(completed=k))
        s_net = self.space.network(arch)
        weights = {k: v.detach().clone().contiguous() for k, v in student.state_dict().items()}
        geno = student_genotype(self.plan.teacher.genotype, s_net, label, cfg, score)
        from ..api import compile as compile_genotype

        with progress(f"budget {label}: compiling", console=self.console) as task:
            creport = compile_genotype(geno, compiled_dir, weights=weights, force=True,
                                       on_step=lambda what: task.update(description=f"budget {label}: {what}"))
        got = creport["networks"]["generator"]["macs_after"]
        s_cost = compiled_cost(s_net)
        if (budget.max_macs is not None and got > budget.max_macs) or got != s_cost.macs:
            raise GccGanError(f"budget {label}: the compiled student has {got:,} MACs; the cost model said "
                              f"{s_cost.macs:,} within {budget.describe()} (a cost-model bug)")
        save_genotype(geno, self.out / f"student_{label}.json")
        rows = [self._row(label, "distilled", s_net, student, z_metric, z_psnr, t_psnr_imgs, scorer,
                          iters * cfg.batch_size, f"student_{label}.json")]
        panels: list[tuple[str, Tensor]] = [("teacher", t_psnr_imgs[:16]), ("distilled", self._images(student, z_psnr[:16]))]
        narrow = narrowest_within(self.teacher_net, s_cost.macs)
        alone = [("alone", s_net, self.space.edge_map(arch), 400 + b, f"student_{label}.json",
                  "the searched student distilled alone")]
        if narrow is not None:
            alone.insert(0, ("narrowed", narrow, list(range(len(self.teacher_net.edges))), 200 + b,
                             f"base width {narrow.base_width}", "the narrowed teacher distilled alone"))
        for method, net, edge_map, tag, note, what in alone:
            # from the teacher's slices (not the supernet), alone, for the distilled student's image-iterations
            fresh = SharedWeights(self.space, self.teacher_state, self.nodes)
            built_alone = fresh.build(net, edge_map)
            a_state, a_projs = fresh.concrete(built_alone)
            with progress(f"budget {label}: {what}", iters, console=self.console) as task:
                mod = finetune(concrete_student(built_alone[0], a_state), a_projs, self.teacher, cfg, iters, tag=tag,
                               on_step=lambda k: task.update(completed=k))
            rows.append(self._row(label, method, net, mod, z_metric, z_psnr, t_psnr_imgs, scorer,
                                  iters * cfg.batch_size, note))
            panels.append(({"alone": "searched, alone"}.get(method, method), self._images(mod, z_psnr[:16])))
        reals = (data_reals(self.dataset, cfg, b) if self.dataset is not None
                 else teacher_reals(self.teacher_image, self.latent_dim, cfg, b))
        with progress(f"budget {label}: the student from scratch (GAN)", iters, console=self.console) as task:
            s_weights = train_from_scratch(s_net, default_discriminator(self.plan.teacher, self.size), reals, cfg,
                                           self.plan.req.preset, iters, self.latent_dim, tag=300 + b,
                                           on_step=lambda k: task.update(completed=k))
        scratch = Interpreter(s_net)
        scratch.load_state_dict(s_weights)
        rows.append(self._row(label, "scratch", s_net, scratch.eval(), z_metric, z_psnr, t_psnr_imgs, scorer,
                              iters * cfg.batch_size, f"student_{label}.json"))
        panels.append(("from scratch", self._images(scratch, z_psnr[:16])))
        up = max(1, 64 // self.size)  # small images drawn at 64 px or more: readable side by side
        save_panels([(c, torch.nn.functional.interpolate(x, scale_factor=up, mode="nearest") if up > 1 else x)
                     for c, x in panels], self.out / f"samples_{label}.png", nrow=4)
        res = {"label": label, "budget": budget.to_json(), "arch": arch.to_json(),
               "choices": self.space.describe(arch), "search_score": score, "search": history,
               "compile_dir": compiled_dir.name, "rows": rows}
        atomic_write_text(done, json.dumps(res, indent=1) + "\n")
        self.say(f"budget {label}: {s_cost.macs:,} compiled MACs → {compiled_dir}; {cfg.metric} "
                 + ", ".join(f"{r['method']} {r['value']:.2f}" for r in rows)
                 + f"; PSNR vs teacher {rows[0]['psnr_db']:.1f} dB")
        return res

    def _images(self, module: torch.nn.Module, z: Tensor) -> Tensor:
        return generate(image_only(module.eval()), z)

    def _row(self, label: str, method: str, net: Network, module: torch.nn.Module, z_metric: Tensor, z_psnr: Tensor,
             t_psnr_imgs: Tensor, scorer: Scorer, image_iters: int, genotype: str) -> dict[str, Any]:
        cost: Cost = compiled_cost(net)
        return {"budget": label, "method": method, "compiled_macs": cost.macs, "stored_params": cost.params,
                **self._lat_cols(net), "psnr_db": psnr(self._images(module, z_psnr), t_psnr_imgs),
                "metric": self.cfg.metric, "value": scorer.score(self._images(module, z_metric)),
                "image_iterations": image_iters, "genotype": genotype}

