"""The standalone worker: a fresh python process in which gcc_gan cannot be imported. It
imports each generated `NAME.py`, loads `NAME.safetensors`, runs a fixed batch, and
writes `NAME.pt2` from that module with torch.export, then reloads the program and runs
it. The parent compares every output with its own module.

Why a separate process does the .pt2 export: it proves both the source and the program
stand without gcc-gan, and it moves torch.export (its import alone takes ~1.7 s, the
trace ~1 s) onto the other core while the parent runs the reference forwards and the
ONNX export. The worker is started before the parent imports torch, so the two imports
overlap too.

This file is run as a script by path. It must import only the standard library at module
level (the CLI imports it before torch) and torch/safetensors inside functions, never
gcc_gan.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

if TYPE_CHECKING:
    from torch import Tensor, nn

# An example batch of 1 would specialise the batch dim to 1; 2 keeps it symbolic, and
# min=1 still admits single images at run time.
EXAMPLE_BATCH = 2
MAX_BATCH = 1 << 20
TIMEOUT_S = 300


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The exporters warn (and log) about their own deprecation, tracing constants and opset
    conversion; the numerical verification is what decides whether an export is right."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def bake_parametrizations(module: nn.Module) -> nn.Module:
    """Replace every parametrization (spectral norm) of `module` by a plain weight holding
    its current value, in place; returns `module`.

    `remove_parametrizations` deletes the weight property from the module's injected class,
    which a deep copy shares with its original, so each module first gets its own clone of
    that class (else the original would lose its `weight`)."""
    import torch
    from torch.nn.utils import parametrize

    with torch.no_grad():
        for mod in list(module.modules()):
            if not parametrize.is_parametrized(mod):
                continue
            cls = type(mod)
            mod.__class__ = type(cls.__name__, cls.__bases__,
                                 {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")})
            for name in list(mod.parametrizations.keys()):
                parametrize.remove_parametrizations(mod, name, leave_parametrized=True)
    return module


def export_program(module: nn.Module, example: tuple[Tensor, ...], path: str | os.PathLike[str]) -> None:
    """torch.export `module` (eval mode, no parametrizations; one positional tensor per
    input) with a dynamic batch dimension, and save it at `path` atomically. Exporter
    errors propagate."""
    import torch

    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    dest = Path(path)
    tmp = dest.with_name(f".{dest.stem}.tmp.pt2")  # torch.export.save wants .pt2
    try:
        with quiet():
            ep = torch.export.export(module, example, dynamic_shapes=tuple({0: batch} for _ in example))
            for node in ep.graph.nodes:  # they name the temp dir the source was imported from
                node.meta.pop("stack_trace", None)
            torch.export.save(ep, str(tmp))
        canonical_pt2(tmp)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


# --------------------------------------------------------------------------- byte-reproducible .pt2
# torch.export.save writes a random `.data/serialization_id` into the archive (and into the
# nested torch.save archive of the sample inputs), and every node's stack trace names the
# temp directory the module was imported from, so the same program gave different bytes on
# every compile. Stack traces are dropped before saving; `canonical_pt2` rewrites each id in
# place, at the same length, with digits derived from the archive's other contents, and
# fixes the CRC-32s the zip format keeps for it. Entry order, offsets and alignment stay as
# torch wrote them.

_ID = ".data/serialization_id"


def _entries(data: bytes) -> list[tuple[zipfile.ZipInfo, int]]:
    """Each stored entry with the offset of its data."""
    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            off = info.header_offset
            name_len, extra_len = struct.unpack("<HH", data[off + 26:off + 30])
            out.append((info, off + 30 + name_len + extra_len))
    return out


def _set_crc(buf: bytearray, info: zipfile.ZipInfo, start: int, new: bytes) -> None:
    old_crc, crc = info.CRC, zlib.crc32(new) & 0xFFFFFFFF
    buf[start:start + len(new)] = new
    off = info.header_offset
    if struct.unpack("<I", buf[off + 14:off + 18])[0] == old_crc:  # CRC in the local header
        buf[off + 14:off + 18] = struct.pack("<I", crc)
    end = start + len(new)
    if buf[end:end + 4] == b"PK\x07\x08" and struct.unpack("<I", buf[end + 4:end + 8])[0] == old_crc:
        buf[end + 4:end + 8] = struct.pack("<I", crc)  # the data descriptor after the data
    name = info.filename.encode()
    at = buf.find(b"PK\x01\x02", end)
    while at != -1:  # its central-directory record
        name_len = struct.unpack("<H", buf[at + 28:at + 30])[0]
        if bytes(buf[at + 46:at + 46 + name_len]) == name:
            buf[at + 16:at + 20] = struct.pack("<I", crc)
            break
        at = buf.find(b"PK\x01\x02", at + 4)


def canonical_archive(data: bytes) -> bytes:
    """`data` (a PyTorch zip archive) with deterministic serialization ids, recursively."""
    buf = bytearray(data)
    entries = _entries(data)
    for info, start in entries:  # nested archives first: their bytes feed the digest below
        if info.compress_type == zipfile.ZIP_STORED and info.filename.endswith(".pt"):
            inner = bytes(buf[start:start + info.compress_size])
            if inner[:4] == b"PK\x03\x04":
                fixed = canonical_archive(inner)
                if fixed != inner:
                    _set_crc(buf, info, start, fixed)
    ids = [(i, s) for i, s in entries if i.filename.endswith(_ID) and i.compress_type == zipfile.ZIP_STORED]
    if not ids:
        return bytes(buf)
    h = hashlib.sha256()
    for info, start in entries:
        if not info.filename.endswith(_ID):
            h.update(info.filename.encode() + bytes(buf[start:start + info.compress_size]))
    digits = str(int.from_bytes(h.digest(), "big"))
    for info, start in ids:
        n = info.compress_size
        _set_crc(buf, info, start, (digits * (n // len(digits) + 1))[:n].encode())
    return bytes(buf)


def canonical_pt2(path: str | os.PathLike[str]) -> None:
    """Rewrite the `.pt2` file at `path` (a temp file, not yet in place) canonically."""
    with open(path, "rb") as f:
        data = f.read()
    fixed = canonical_archive(data)
    if fixed != data:
        with open(path, "wb") as f:
            f.write(fixed)


def first_line(e: BaseException) -> str:
    """`Type: first line of the message`, for one-line error reports."""
    text = str(e).strip().split("[Caused by")[0].strip()  # the rest is a dump of the traced graph
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def _inputs(tensors: dict[str, Tensor], batch: int) -> tuple[Tensor, ...]:
    n = sum(1 for k in tensors if k.startswith(f"b{batch}."))
    return tuple(tensors[f"b{batch}.in{i}"] for i in range(n))


def _outputs(out: Any, prefix: str) -> dict[str, Tensor]:
    import torch

    outs = (out,) if isinstance(out, torch.Tensor) else tuple(out)
    return {f"{prefix}.out{i}": o.detach().contiguous() for i, o in enumerate(outs)}


def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    """One network: standalone forward, then (when asked) .pt2 export, reload and runs.
    Failures are recorded in the result, never raised."""
    import importlib.util

    import torch
    from safetensors.torch import load_file, save_file

    res: dict[str, Any] = {"stem": job["stem"], "wall_s": {}}
    d, stem = Path(job["dir"]), job["stem"]
    xs = load_file(job["inputs"])
    outs: dict[str, Tensor] = {}
    try:
        spec = importlib.util.spec_from_file_location(stem, d / f"{stem}.py")
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        net = getattr(mod, job["class_name"])()
        net.load_state_dict(load_file(str(d / f"{stem}.safetensors")), strict=True)
        net.eval()
        with torch.no_grad():
            outs.update(_outputs(net(*_inputs(xs, job["standalone_batch"])), "standalone"))
    except Exception:  # noqa: BLE001 - the parent reports the last lines of the traceback
        res["standalone_error"] = "\n".join(traceback.format_exc().strip().splitlines()[-3:])
        return res
    try:
        if job.get("pt2_batches") is not None:
            _pt2_steps(job, net, xs, res, outs)
    finally:
        save_file(outs, job["outputs"])
    return res


def _pt2_steps(job: dict[str, Any], net: nn.Module, xs: dict[str, Tensor], res: dict[str, Any],
               outs: dict[str, Tensor]) -> None:
    """Export `net` to `NAME.pt2`, reload it, run it at each of the job's pt2_batches."""
    import torch

    path = Path(job["dir"]) / f"{job['stem']}.pt2"
    t0 = time.perf_counter()
    try:
        export_program(bake_parametrizations(net), _inputs(xs, EXAMPLE_BATCH), path)
    except Exception as e:  # noqa: BLE001 - recorded for the parent
        res["pt2_export_error"] = first_line(e)
        return
    finally:
        res["wall_s"]["pt2_export"] = round(time.perf_counter() - t0, 4)
    t0 = time.perf_counter()
    try:
        with quiet():
            prog = torch.export.load(str(path)).module()
    except Exception as e:  # noqa: BLE001
        res["pt2_load_error"] = first_line(e)
        return
    for b in job["pt2_batches"]:
        try:
            with torch.no_grad():
                outs.update(_outputs(prog(*_inputs(xs, b)), f"pt2.b{b}"))
        except Exception as e:  # noqa: BLE001
            res["pt2_run_error"] = {"batch": b, "message": first_line(e)}
            break
    res["wall_s"]["pt2_verify"] = round(time.perf_counter() - t0, 4)


def serve(results_path: str) -> None:
    """The worker's main: import torch (and warm torch.export) while the parent works, then
    run the one JSON line of jobs read from stdin; EOF without jobs means the parent gave
    up. The results list is written to `results_path` when all jobs ran. An orphaned worker
    removes its io dir (the parent's temp dir holding `results_path`) itself."""
    # the same interpreter and sys.path as the parent (user site, PYTHONPATH: the same
    # torch), minus this file's own folder; gcc_gan itself is blocked, so any `import
    # gcc_gan...` in the generated source fails even where gcc_gan is installed
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.modules["gcc_gan"] = None  # type: ignore[assignment]
    parent = os.getppid()
    import torch  # noqa: F401

    with contextlib.suppress(Exception):
        import torch.export._trace  # noqa: F401 - the slow part of torch.export's import
    line = sys.stdin.readline()
    if line.strip():
        results = [_run_job(job) for job in json.loads(line)]
        tmp = f"{results_path}.tmp"
        Path(tmp).write_text(json.dumps(results), encoding="utf-8")
        os.replace(tmp, results_path)
    if not line.strip() or os.getppid() != parent:  # the parent gave up or was killed: nobody else cleans up
        shutil.rmtree(Path(results_path).parent, ignore_errors=True)
    # everything is on disk; skip the interpreter teardown (~1 s with torch.export loaded),
    # which the parent would otherwise wait for
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class StandaloneWorker:
    """Parent side: start the worker now, `submit` jobs later, `collect` their results.
    Use as a context manager: leaving it kills a worker that is still running."""

    def __init__(self) -> None:
        self.io_dir = Path(tempfile.mkdtemp(prefix="gcc-gan-standalone-"))
        self.results_path = self.io_dir / "results.json"
        env = {**os.environ, "OMP_NUM_THREADS": "1"}  # small batches; leave the cores to the parent
        self._stderr = open(self.io_dir / "stderr", "w+", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen([sys.executable, "-B", __file__, str(self.results_path)], env=env,
                                     cwd=self.io_dir, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, text=True)
        self.submitted = False

    def __enter__(self) -> StandaloneWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, jobs: Sequence[dict[str, Any]]) -> None:
        """Each job: dir, stem, class_name, inputs (safetensors with `b{batch}.in{i}`),
        outputs (path), standalone_batch, pt2_batches (None: no .pt2)."""
        assert self.proc.stdin is not None and not self.submitted
        self.submitted = True
        try:
            self.proc.stdin.write(json.dumps(list(jobs)) + "\n")
            self.proc.stdin.close()
        except OSError:
            pass  # the worker died; collect() reports how

    def collect(self, timeout: float = TIMEOUT_S) -> list[dict[str, Any]]:
        """Wait for the worker; its results, one per job. A crash or a timeout raises
        RuntimeError with the tail of its stderr."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"timed out after {timeout:g} s") from None
        if self.proc.returncode != 0 or not self.results_path.is_file():
            self._stderr.seek(0)
            tail = "\n".join(self._stderr.read().strip().splitlines()[-3:])
            raise RuntimeError(tail or f"exited with code {self.proc.returncode}")
        return json.loads(self.results_path.read_text(encoding="utf-8"))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        self._stderr.close()
        shutil.rmtree(self.io_dir, ignore_errors=True)


if __name__ == "__main__":
    serve(sys.argv[1])
