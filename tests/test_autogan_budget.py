

def test_budgeted_search_resumes_exactly(tmp_path: Path) -> None:
    """The switchable BNs are checkpointed with the supernet, and scoring a child (BN
    re-calibration) leaves the shared statistics as they were: stop + resume = one run."""
    full = _search(tmp_path / "full", max_macs=60_000)
    search(SearchRequest(method="autogan", data=DATA, out=tmp_path / "part", device="cpu",  # type: ignore[arg-type]
                         overrides={**SMALL, "max_macs": 60_000}, stop_after=7))
    part = _search(tmp_path / "part", max_macs=60_000, resume=True) if False else tmp_path / "part"
    search(SearchRequest(method="autogan", data=DATA, out=part, device="cpu",  # type: ignore[arg-type]
                         overrides={**SMALL, "max_macs": 60_000}, resume=True))
    assert json.loads((full / "topk.json").read_text()) == json.loads((part / "topk.json").read_text())
    a, b = (load_file(str(p / "child.safetensors")) for p in (full, part))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
