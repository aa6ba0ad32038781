"""Record the published methods' run fingerprints (run on the code the refactor must match)."""
import json, sys, tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from fingerprint import DATA, MICRO, canary, fingerprint  # noqa: E402

from gcc_gan.search.run import SearchRequest, search  # noqa: E402

def main() -> None:
    torch.set_num_threads(1)
    which = sys.argv[1]  # micro | tiny
    res = {"canary": canary(), "runs": {}}
    for method, over in MICRO.items():
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "run"
            # tiny: the preset itself; the rewards that need Inception weights replaced by SWD
            tiny = {"min_diversity": 0.0, **({"reward": "swd"} if method in ("autogan", "dggan") else {}),
                    # DEGAS's tiny preset when the reference was recorded (search/config.py has more since)
                    **({"iters": 150, "lr": 1e-3, "n_images": 512} if method == "degas" else {}),
                    **({"workers": 1} if method == "dggan" else {})}
            ov = over if which == "micro" else tiny
            data = DATA if which == "micro" else "synthetic"
            search(SearchRequest(method=method, data=data, out=out, overrides=ov, device="cpu", threads=1))
            res["runs"][method] = fingerprint(out)
            print(method, res["runs"][method], flush=True)
    Path(sys.argv[2]).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
