"""Random valid genotypes compile, export to ONNX and .pt2, and verify.

The CI-sized run checks a dozen draws; the full sweep of a few hundred is marked `slow`:
    pytest -m slow tests/test_compile_random.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from strategies import networks

from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.export.onnx_export import export_onnx, verify_onnx
from gcc_gan.export.pt2_export import export_pt2, verify_pt2
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.model import Network


def compile_export_verify(net: Network, batches: tuple[int, ...]) -> None:
    info = analyze(net)
    compiled = compile_network(info)
    module = compiled.instantiate()
    with tempfile.TemporaryDirectory() as d:
        onnx_path, pt2_path = Path(d) / "net.onnx", Path(d) / "net.pt2"
        export_onnx(module, compiled.input_shapes, onnx_path)
        errs = verify_onnx(onnx_path, module, compiled.input_shapes, batches=batches)["max_abs_err"]
        assert max(errs.values()) <= 1e-4
        export_pt2(module, compiled.input_shapes, pt2_path)
        verify_pt2(pt2_path, module, compiled.input_shapes, batches=batches)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks())
def test_random_generators_compile_export_verify(net: Network) -> None:
    compile_export_verify(net, (1, 3))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(role="discriminator"))
def test_random_discriminators_compile_export_verify(net: Network) -> None:
    compile_export_verify(net, (1, 3))


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks())
def test_few_hundred_random_genotypes(net: Network) -> None:
    compile_export_verify(net, (1, 3, 64))
