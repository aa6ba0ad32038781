"""`gcc-gan search`: a search space x a strategy x an evaluator (search/registry.py; the four
published methods are presets of the triple); writes a genotype that `gcc-gan compile` turns
into PyTorch / ONNX / .pt2."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Literal, Optional

import typer

from ..search.registry import EVALUATORS, LEGACY_METHODS, METHOD_PRESETS, SPACES, STRATEGIES
from .app import Device, Preset, app, console, err_console
from .max_memory import check_process, max_memory_option

# The choices are the registries' names (search/registry.py; `declared()` reads them from the
# decorators without importing torch): a newly registered class is a choice here, in --help
# and in the usage error that lists the known names, with no edit in this file.
MethodName = Literal[(*METHOD_PRESETS, *LEGACY_METHODS)]  # type: ignore[valid-type]
SpaceName = Literal[SPACES.declared()]  # type: ignore[valid-type]
StrategyName = Literal[STRATEGIES.declared()]  # type: ignore[valid-type]
EvaluatorName = Literal[EVALUATORS.declared()]  # type: ignore[valid-type]


def _one_of(names: Any) -> str:
    """'a, b or c' for a Literal's names."""
    *rest, last = names.__args__
    return f"{', '.join(rest)} or {last}" if rest else str(last)


@app.command("search")
def search_cmd(
    method: Optional[MethodName] = typer.Option(
        None, "--method", help="a published method as a preset of --space/--strategy/--evaluator/--reward (default "
        "adversarial, AdversarialNAS; gcc-gan search --list shows each preset's triple); random is --strategy random; "
        "--resume takes the run's"),
    space: Optional[SpaceName] = typer.Option(
        None, "--space", help="the search space (default: adversarialnas, or the space of --strategy's published "
        "method); gcc-gan search --list shows which strategies each takes"),
    strategy: Optional[StrategyName] = typer.Option(  # the names in the help: `<a|b|...>` would not fit 60 columns
        None, "--strategy", metavar="STRATEGY", help=f"how architectures are proposed: {_one_of(StrategyName)} "
        "(default: the published method's for --space; evolution: NSGA-II over reward and compiled cost); gcc-gan "
        "search --list shows which spaces each takes"),
    population: int | None = typer.Option(None, "--population", help="random / evolution / reinforce: candidates "
                                          "per round (evolution: the population; tiny 6 standalone, 8 shared)"),
    candidate_iters: int | None = typer.Option(None, "--candidate-iters", help="standalone evaluator: training "
                                               "iterations of each candidate (tiny 30)"),
    evaluator: Optional[EvaluatorName] = typer.Option(
        None, "--evaluator", help="random / evolution / reinforce: train each candidate standalone (default), or "
        "score it on the space's shared weights: a one-shot supernet trained first (--supernet-iters), or "
        "AutoGAN's shared GAN (the default for reinforce / random in the autogan space)"),
    supernet_iters: int | None = typer.Option(None, "--supernet-iters", help="--evaluator shared (one-shot): the "
                                              "supernet's training steps before the rounds (tiny 300)"),
    list_pairs: bool = typer.Option(False, "--list", help="print which space x strategy pairs work (for the "
                                    "others, the capability the space lacks) and the method presets, and exit"),
    data: str | None = typer.Option(None, "--data", help="cifar10:PATH, stl10:PATH, folder:PATH, lsun:PATH, digits or "
                                       "synthetic (default: the embedded synthetic set)"),
    preset: Optional[Preset] = typer.Option(None, "--preset", help="tiny (minutes on a CPU) or paper (the "
                                            "papers' protocol); default: paper with a GPU, tiny without"),
    iters: int | None = typer.Option(None, "--iters", help="search iterations (default: the preset's)"),
    out: Path | None = typer.Option(None, "-o", "--out", help="run directory (default: runs/search-METHOD, "
                                       "or the next free runs/search-METHOD-N)"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in -o (default: the newest "
                                "runs/search-METHOD*) from its last checkpoint"),
    force: bool = typer.Option(False, "--force", help="replace an existing search run in -o"),
    sampling: Optional[Literal["soft", "hard"]] = typer.Option(
        None, "--sampling", help="soft (Gumbel-softmax weighted sum, merged kernels; default) or hard "
        "(straight-through one-hot: only the sampled op runs)"),
    fixed_d: bool | None = typer.Option(None, "--fixed-d/--no-fixed-d", help="AdversarialNAS ablation: fixed "
                                           "SNGAN discriminator, search G only"),
    reward: Optional[Literal["is", "fid", "swd", "hinge", "glo"]] = typer.Option(
        None, "--reward", help="differentiable: the training objective, hinge (adversarialnas) or glo (degas); "
        "AutoGAN / random --space autogan: is (Inception Score; default), fid (1/FID) or swd "
        "(-swd-real x 1e3: SWD normalised by the real images' statistics, so colour collapse counts; needs no "
        "Inception weights); DGGAN: fid (default) or swd (swd-real, explicit proxy)"),
    mode: Optional[Literal["clean", "faithful"]] = typer.Option(
        None, "--mode", help="AutoGAN: clean (default) or faithful (the official code's loss, unused-weight Adam steps"
        " and top-K; README lists the rest)"),
    k: int | None = typer.Option(None, "--k", help="DGGAN: parents kept each step (top-K; tiny 2, paper 20)"),
    p: float | None = typer.Option(None, "--p", help="DGGAN: probability of keeping each (parent, action) pair "
                                   "(tiny and paper 0.4)"),
    executor: Optional[Literal["local", "ray"]] = typer.Option(
        None, "--executor", help="DGGAN / random --space dggan: where candidates train: local (processes; default) "
        "or ray"),
    address: str | None = typer.Option(None, "--address", help="--executor ray: the Ray cluster's address "
                                          "(default: start a local Ray)"),
    workers: int | None = typer.Option(None, "--workers", help="DGGAN: candidates trained in parallel "
                                          "(default: 1-2, the CPU cores)"),
    seed: int | None = typer.Option(None, "--seed", help="random seed (default 0)"),
    device: Device = typer.Option("auto", "--device", help="cpu, cuda or auto"),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads (default: 1 for the tiny preset, "
                                          "whose small convolutions gain nothing from more; else torch's default)"),
    max_macs: Optional[str] = typer.Option(None, "--max-macs", help="budget: compiled MACs per image of the "
                                           "generator, e.g. 800M (as `gcc-gan compile` reports them)"),
    max_params: Optional[str] = typer.Option(None, "--max-params", help="budget: stored parameters of the "
                                             "compiled generator, e.g. 3M"),
    max_latency: Optional[str] = typer.Option(None, "--max-latency", help="budget: measured latency of the "
                                              "compiled generator at batch 1, e.g. 5ms (--latency-backend)"),
    latency_backend: Optional[Literal["torch", "onnxruntime"]] = typer.Option(
        None, "--latency-backend", help="where --max-latency is measured: torch (default) or onnxruntime"),
    min_diversity: Optional[float] = typer.Option(
        None, "--min-diversity", min=0.0, help="candidate health: a generator whose per-pixel std over a fixed "
        "latent batch is below this fraction of the data's is 'collapsed' (never selected; default 0.25; 0 turns "
        "the check off)"),
    pareto: int = typer.Option(0, "--pareto", min=0, help="also write the K best Pareto-front candidates "
                               "(score against compiled MACs) as RUN/pareto/NAME.json"),
    max_memory: Optional[str] = max_memory_option(),
    nproc: int = typer.Option(1, "--nproc", help="data-parallel workers on this machine (adversarial, degas): "
                              "each takes 1/N of every batch, results as one process (gloo on CPU, NCCL with one "
                              "GPU each); under torchrun leave it out"),
) -> None:
    """Search a GAN architecture; writes RUN/genotype.json (with RUN/history.jsonl,
    RUN/genotype.png and RUN/op_probabilities.png, or RUN/candidates.png for random
    search, RUN/controller.png for AutoGAN). With no options: AdversarialNAS on synthetic
    data, the tiny preset on a CPU — a few minutes on a laptop."""
    from ..presets import resolve_preset

    if list_pairs:
        from ..search.registry import matrix_table

        console.print(matrix_table(), highlight=False, markup=False, soft_wrap=True)
        return
    check_process("search")
    if method is None and resume:  # --resume: the run (default: the newest runs/search-*) and its method (search.json)
        from ..search.run import default_out

        out = out if out is not None else default_out(None, True)
        method = _run_config(out).get("method")
    name = method
    if not resume:  # the triple's usage errors (exit 2) first and alone: before the preset note, before any work
        from ..search.base import refuse_unread
        from ..search.config import resolve
        from ..search.registry import check_pair

        name, sp, st, ev = resolve(method, space, strategy, evaluator)
        check_pair(sp, st, ev)
        # a flag this search would not read: a usage error too, not accepted and ignored
        refuse_unread(method, dict(space=space, strategy=strategy, evaluator=evaluator, sampling=sampling,
                                   fixed_d=fixed_d, mode=mode, population=population, candidate_iters=candidate_iters,
                                   supernet_iters=supernet_iters, dg_k=k, dg_p=p, executor=executor, address=address,
                                   workers=workers))
    if nproc != 1:
        from .dist_launch import launch_workers

        from ..search.run import DATA_PARALLEL

        launch_workers(nproc, name in DATA_PARALLEL, f"--method {name}: data-parallel search "
                       "(--nproc) is for adversarial and degas; DGGAN trains its candidates in parallel itself "
                       "(--workers, --executor ray)", device)
    from ..compiler.cost import parse_count, parse_ms

    budget = dict(max_macs=parse_count(max_macs, "--max-macs"), max_params=parse_count(max_params, "--max-params"),
                  max_latency_ms=parse_ms(max_latency, "--max-latency"))
    choice = resolve_preset(preset, device)
    if choice.note and not resume:  # a resumed search keeps its own preset (search.json)
        err_console.print(choice.note, highlight=False)
    from ..search.plots import pictures
    from ..search.run import SearchRequest, search

    overrides = dict(iters=iters, sampling=sampling, fixed_d=fixed_d, seed=seed, reward=reward, mode=mode, space=space,
                     strategy=strategy, evaluator=evaluator, population=population, candidate_iters=candidate_iters,
                     supernet_iters=supernet_iters,
                     dg_k=k, dg_p=p, executor=executor, address=address, workers=workers, **budget,
                     latency_backend=latency_backend, min_diversity=min_diversity)
    req = SearchRequest(method=method, data=data, preset=choice.name, out=out, resume=resume, force=force,
                        overrides=overrides, device=device, threads=threads, pareto=pareto)
    res = search(req, console=err_console)  # under torchrun: one rank (only rank 0 returns)
    done = f"resumed at {res.resumed_from}, " if res.resumed_from is not None else ""
    child = res.out / "child.safetensors"  # AutoGAN: the best child's shared weights
    weights = f" --weights {shlex.quote(str(child))}" if child.is_file() else ""
    if (res.out / "generator.safetensors").is_file():  # DGGAN: the winner's trained G and D
        weights = f" --weights {shlex.quote(str(res.out))}"
    cfg = _run_config(res.out)  # a resumed run's own method and space
    method, space = cfg.get("method", method), cfg.get("space", space)
    unit = "growth steps" if cfg.get("strategy") == "growth" else "iterations"
    front = sorted((res.out / "pareto").glob("*.json"))  # --pareto K
    pareto_line = (f"  pareto:   {res.out / 'pareto.csv'}, {res.out / 'pareto.png'}"
                   + (f", {len(front)} front genotype(s) in {res.out / 'pareto'}/" if front else "") + "\n"
                   if (res.out / "pareto.csv").is_file() else "")
    console.print(f"done: {res.step} {unit} ({done}{res.seconds:.0f} s) → {res.out}\n"
                  f"  genotype: {res.genotype}\n"
                  f"  pictures: {', '.join(str(res.out / p) for p in pictures(str(method), space, cfg.get('evaluator'), cfg.get('strategy')))}\n"
                  f"{pareto_line}"
                  f"{next_steps(res.genotype, res.out, weights, _run_data(res.out))}",
                  highlight=False, soft_wrap=True)


def next_steps(genotype: Path, run: Path, weights: str, data: str) -> str:
    """The `next:` lines: compile with the search's trained weights where it ships them; else
    (a supernet's derivation, a one-shot winner) train the genotype on the search's data first,
    then compile that."""
    g, compiled = shlex.quote(str(genotype)), shlex.quote(str(run / "compiled"))
    if weights:
        return f"  next:     gcc-gan compile {g}{weights} -o {compiled}"
    trained = shlex.quote(str(run / "trained"))
    return (f"  next:     gcc-gan train {g} --data {shlex.quote(data)} -o {trained}   (the search ships no trained "
            "weights)\n"
            f"            gcc-gan compile {g} --weights {trained} -o {compiled}")


def _run_data(run: Path) -> str:
    """The data spec a search run recorded (search.json; the default synthetic set when unreadable)."""
    import json

    try:
        return str(json.loads((run / "search.json").read_text())["data"])
    except (OSError, ValueError, KeyError, TypeError):
        return "synthetic"


def _run_config(run: Path) -> dict[str, Any]:
    """The settings a search run recorded (search.json), or {} when it has none readable."""
    import json

    try:
        cfg = json.loads((run / "search.json").read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return cfg if isinstance(cfg, dict) else {}
