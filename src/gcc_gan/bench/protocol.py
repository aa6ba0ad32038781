"""Evaluation protocols: what a quality number was measured under, as named presets.

Published IS / FID / KID differ by more than the gaps between methods when the protocol
differs: 50k generated images against training-set statistics or against the test split
(SNGAN's CIFAR-10 FID is 21.7 against test, 14.2 against train), TF1 bilinear or PIL
bicubic resizing to 299 (1–2 FID points on CIFAR-10), KID subsets, how many runs. A
`Protocol` names all of it; `describe()` makes the one line printed under every table and
`to_json()` the record kept beside every number.

Presets (`--protocol NAME`):

* `torch-fidelity` (the default): torch-fidelity's defaults — N generated vs N real
  (N = `--num-samples`, a seeded subset where the real set is larger), TF1 bilinear
  resize, IS over 10 splits, KID 100 subsets of 1000.
* `autogan`: the seed papers' tables (SNGAN, AutoGAN, AdversarialNAS, DEGAS, DGGAN):
  50k generated vs the statistics of the 50k training images (`cifar10:PATH`, train
  split), TF1 bilinear resize (their TF Inception), IS 10 splits.
* `studiogan`: PyTorch-StudioGAN's benchmark tables: 50k generated vs the training split,
  the "friendly" PIL bicubic resize (clean), IS 10 splits, PRDC with k = 5.
* `clean-fid`: clean-fid's `mode="clean"`: 50k generated vs the real set's statistics,
  PIL bicubic resize of uint8 images, KID 100 subsets of 1000.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from ..errors import GccGanError

FidMode = Literal["legacy-tf", "clean"]
FID_MODES: tuple[str, ...] = ("legacy-tf", "clean")
RESIZE_NAMES = {"legacy-tf": "tf1x-bilinear-299", "clean": "pil-bicubic-299"}  # as stored in stats files
DEFAULT = "torch-fidelity"


@dataclass(frozen=True)
class Protocol:
    name: str
    num_samples: int  # generated images
    real_samples: int | None  # real images (None: as many as generated)
    fid_mode: FidMode = "legacy-tf"
    is_splits: int = 10
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    prdc_k: int = 5
    truncation: float | None = None  # latents are untruncated N(0, 1) in every preset
    matches: str = ""
    modified: tuple[str, ...] = ()  # fields the user changed from the preset

    def real_count(self) -> int:
        return self.num_samples if self.real_samples is None else self.real_samples

    @property
    def resize(self) -> str:
        return RESIZE_NAMES[self.fid_mode]

    def with_overrides(self, **changes: Any) -> Protocol:
        """The preset with the user's explicit options; each changed field is recorded, so
        the protocol line says `autogan, modified: num_samples=64`."""
        changed = tuple(k for k, v in changes.items() if v is not None and getattr(self, k) != v)
        if not changed:
            return self
        return replace(self, **{k: changes[k] for k in changed}, modified=self.modified + changed)

    @property
    def label(self) -> str:
        tag = f"{self.name} (default)" if self.name == DEFAULT else self.name
        if self.modified:
            tag += ", modified: " + ", ".join(f"{k}={getattr(self, k)}" for k in self.modified)
        return tag

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["modified"] = list(self.modified)
        d["resize"] = self.resize
        return d


PRESETS: dict[str, Protocol] = {
    "torch-fidelity": Protocol("torch-fidelity", 50_000, None, "legacy-tf",
                               matches="torch-fidelity's defaults (fidelity --isc --fid --kid)"),
    "autogan": Protocol("autogan", 50_000, 50_000, "legacy-tf",
                        matches="SNGAN / AutoGAN / AdversarialNAS / DEGAS / DGGAN tables: 50k generated vs "
                                "training-set statistics, TF Inception, IS 10 splits"),
    "studiogan": Protocol("studiogan", 50_000, 50_000, "clean",
                          matches="PyTorch-StudioGAN tables: 50k generated vs the training split, "
                                  "friendly (PIL bicubic) resize"),
    "clean-fid": Protocol("clean-fid", 50_000, 50_000, "clean",
                          matches="clean-fid mode='clean': PIL bicubic resize of uint8 images"),
}


def get_protocol(name: str | None) -> Protocol:
    key = DEFAULT if name is None else name.strip().lower()
    if key not in PRESETS:
        raise GccGanError(f"--protocol {name}: unknown protocol; choose from {', '.join(PRESETS)}")
    return PRESETS[key]


def check_fid_mode(mode: str | None) -> FidMode | None:
    if mode is not None and mode not in FID_MODES:
        raise GccGanError(f"--fid-mode {mode}: choose legacy-tf or clean")
    return mode  # type: ignore[return-value]


def describe(doc: dict[str, Any]) -> str:
    """The one-line protocol printed under a table, from a report's `protocol` record."""
    p = doc["preset"]
    head = f"protocol {p['name']}" + (" (the default)" if p["name"] == DEFAULT else "")
    if p["modified"]:
        head += ", modified: " + ", ".join(f"{k}={p[k]}" for k in p["modified"])
    parts = [head]
    gen = doc.get("num_generated")
    real = doc.get("real") or {}
    if gen is not None:
        side = f"{gen} generated"
        if real:
            side += f" vs {real.get('num_samples', '?')} real ({real.get('source')}"
            if real.get("sha256"):
                side += f", {real.get('file_kind', 'stats')} sha256 {real['sha256'][:12]}"
            side += ")"
        parts.append(side)
    parts.append(f"resize {p['fid_mode']} ({p['resize']})")
    inc = doc.get("inception")
    if inc:
        parts.append(f"Inception {inc['sha256'][:12]} ({'FID-comparable' if inc['fid_inception'] else 'NOT FID-comparable'})")
    if "is_splits" in doc:
        parts.append(f"IS {doc['is_splits']} splits")
    if "kid" in doc:
        k = doc["kid"]
        parts.append(f"KID {k['subsets']}×{k['subset_size']}" + (f" (reduced from {k['requested']})"
                                                                if k["subset_size"] < k["requested"] else ""))
    if "prdc_k" in doc:
        parts.append(f"PRDC k={doc['prdc_k']}")
    seeds = doc.get("latent_seeds") or []
    if seeds:
        parts.append(f"latent seed {seeds[0]}" if len(seeds) == 1 else
                     f"{len(seeds)} repeats, latent seeds {seeds[0]}..{seeds[-1]}")
    parts.append(f"truncation {p['truncation'] if p['truncation'] is not None else 'none'}")
    return "; ".join(parts)
