"""The FID Inception network, from local weights only.

Weights come from (first match wins) `--inception-weights PATH`, `$GCC_GAN_INCEPTION`, or
the torch hub cache (`$TORCH_HOME/hub/checkpoints/`, default `~/.cache/torch/hub/checkpoints/`)
under torch-fidelity's name `weights-inception-2015-12-05-6726825d.pth` or pytorch-fid's
`pt_inception-2015-12-05-6726825d.pth`. The two files use the same state-dict layout
(torchvision's Inception3 module names, 1008 classes, no aux head), so either loads into
torch-fidelity's `FeatureExtractorInceptionV3`: TF-1.x-compatible bilinear resize to 299,
2048-d pool features and the bias-free 1008 logits that IS uses. Nothing is downloaded:
the extractor always gets the weights handed to it, so its download branch never runs.

Which weights are the FID Inception: both release files carry the first hex digits of
their sha256 in their name (torch hub's convention, `-6726825d.pth`), so the file's digest
is checked against that prefix. A file with the right layout but another digest (random
weights for tests, a retrained or damaged network) still loads, so smoke runs and tests
work, but with a warning naming the file and saying its IS / FID / KID are not comparable
with published numbers; `Inception.verified` (recorded in bench JSON and scale's CSV)
says which it was.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import GccGanError

ENV_VAR = "GCC_GAN_INCEPTION"
FIDELITY_NAME = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's release file
PYTORCH_FID_NAME = "pt_inception-2015-12-05-6726825d.pth"  # pytorch-fid's release file
HUB_NAMES = (FIDELITY_NAME, PYTORCH_FID_NAME)
FID_SHA256_PREFIX = "6726825d"  # the hash in both release files' names: their sha256 starts with it
FEATURES = ("2048", "logits_unbiased")  # FID/KID pool features, IS logits (torch-fidelity's defaults)
INPUT_SIZE = 299


def clean_resize(images: Tensor, size: int = INPUT_SIZE) -> Tensor:
    """clean-fid's resize (`make_resizer("PIL", False, "bicubic", (size, size))`): each
    channel of each uint8 image as a float32 PIL image, bicubic, clipped to [0, 255], not
    re-quantised. uint8 (N, 3, H, W) -> float32 (N, 3, size, size) on the CPU."""
    import numpy as np
    from PIL import Image

    if images.dtype != torch.uint8 or images.dim() != 4:
        raise GccGanError(f"clean resize expects uint8 (N, C, H, W) images, got {images.dtype} {tuple(images.shape)}")
    x = images.cpu().numpy()
    out = np.empty((x.shape[0], x.shape[1], size, size), dtype=np.float32)
    for i in range(x.shape[0]):
        for c in range(x.shape[1]):
            img = Image.fromarray(x[i, c].astype(np.float32), mode="F").resize((size, size), Image.BICUBIC)
            out[i, c] = np.asarray(img).clip(0, 255)
    return torch.from_numpy(out)


def hub_checkpoint_dir() -> Path:
    """Where torch keeps hub downloads: honours $TORCH_HOME and $XDG_CACHE_HOME."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def resolve_weights(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The Inception weights file to use, or one GccGanError saying what to put where."""
    if explicit is not None:
        p = Path(explicit).expanduser()
        if not p.is_file():
            raise GccGanError(f"--inception-weights {p}: no such file")
        return p
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise GccGanError(f"${ENV_VAR}={env}: no such file")
        return p
    hub = hub_checkpoint_dir()
    for name in HUB_NAMES:
        if (hub / name).is_file():
            return hub / name
    raise GccGanError(
        "IS / FID / KID need the FID Inception weights, which gcc-gan never downloads. Get "
        f"{FIDELITY_NAME} (torch-fidelity's release, ~92 MB; pytorch-fid's {PYTORCH_FID_NAME} works too) "
        f"and either put it in {hub}/, set ${ENV_VAR}=/path/to/it, or pass --inception-weights /path/to/it.")


def _expected_shapes() -> dict[str, torch.Size]:
    """The state-dict layout both weight files use (built on the meta device: no memory)."""
    with torch.device("meta"):
        net = _torchvision_fid_inception()
    return {k: v.shape for k, v in net.state_dict().items()}


def _torchvision_fid_inception() -> nn.Module:
    # torchvision's Inception3 with 1008 classes and no aux head has exactly the parameter
    # names and shapes of torch-fidelity's extractor and pytorch-fid's FIDInceptionV3.
    import torchvision

    return torchvision.models.inception_v3(weights=None, num_classes=1008, aux_logits=False, init_weights=False)


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """The Inception state dict in `path`, checked against the expected layout. Loaded with
    `weights_only=True`, so a malicious pickle cannot run code."""
    p = Path(path)
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure to read is the file's fault
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GccGanError(f"{p}: not a loadable Inception weights file ({first})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise GccGanError(f"{p}: expected a state dict of tensors (the FID Inception weights)")
    sd = {str(k).removeprefix("module."): v for k, v in obj.items()}
    want = _expected_shapes()
    missing = [k for k in want if k not in sd and not k.endswith("num_batches_tracked")]
    extra = [k for k in sd if k not in want]
    wrong = [k for k in want if k in sd and sd[k].shape != want[k]]
    if missing or extra or wrong:
        why = []
        if missing:
            why.append(f"{len(missing)} missing key(s), e.g. {missing[0]}")
        if extra:
            why.append(f"{len(extra)} unexpected key(s), e.g. {extra[0]}")
        if wrong:
            why.append(f"wrong shape for {wrong[0]}: {tuple(sd[wrong[0]].shape)} instead of {tuple(want[wrong[0]])}")
        raise GccGanError(f"{p}: not the FID Inception (1008 classes) in torch-fidelity's or pytorch-fid's "
                          f"layout: {'; '.join(why)}")
    for k in want:  # pytorch-fid's file predates num_batches_tracked
        if k.endswith("num_batches_tracked") and k not in sd:
            sd[k] = torch.zeros((), dtype=torch.long)
    return {k: sd[k] for k in want}


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, memoised by (path, size, mtime): it keys the stats cache."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """Fold each eval-mode BatchNorm into the bias-free conv before it (exact algebra:
    one conv instead of conv + a normalisation pass over the feature map)."""
    for mod in net.modules():
        conv, bn = getattr(mod, "conv", None), getattr(mod, "bn", None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and conv.bias is None:
            scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                              conv.dilation, conv.groups, bias=True, device=conv.weight.device,
                              dtype=conv.weight.dtype)
            with torch.no_grad():
                fused.weight.copy_(conv.weight.double() * scale.view(-1, 1, 1, 1))
                fused.bias.copy_(bn.bias.double() - bn.running_mean.double() * scale)
            fused.requires_grad_(False)
            mod.conv, mod.bn = fused, nn.Identity()
    return net


@dataclass
class Inception:
    """The feature extractor and what identifies it (for the stats cache)."""

    net: nn.Module
    path: Path
    sha256: str
    device: torch.device
    verified: bool = False  # the file's sha256 is the FID Inception's (see the module doc)

    @torch.inference_mode()
    def features(self, images: Tensor, fid_mode: str = "legacy-tf") -> tuple[Tensor, Tensor]:
        """uint8 (N, 3, H, W) images -> (pool features (N, 2048), logits (N, 1008)), float32 on CPU.
        `fid_mode` "legacy-tf": torch-fidelity's TF1 bilinear resize inside the network;
        "clean": clean-fid's PIL bicubic resize first (see `clean_resize`)."""
        if fid_mode == "clean":
            return self._clean_features(images)
        pool, logits = self.net(images.to(self.device, non_blocking=True))
        return pool.float().cpu(), logits.float().cpu()

    def _clean_features(self, images: Tensor) -> tuple[Tensor, Tensor]:
        # torch-fidelity's extractor takes only uint8 and always applies its TF1 resize, an
        # identity at 299×299; its first conv then gets the clean-resized floats instead,
        # normalised as the extractor normalises ((x - 128) / 128).
        x = ((clean_resize(images) - 128.0) / 128.0).to(self.device)
        first = self.net.Conv2d_1a_3x3
        handle = first.register_forward_pre_hook(lambda _m, args: (x.to(args[0].dtype),))
        try:
            dummy = torch.zeros((images.shape[0], 3, INPUT_SIZE, INPUT_SIZE), dtype=torch.uint8, device=self.device)
            pool, logits = self.net(dummy)
        finally:
            handle.remove()
        return pool.float().cpu(), logits.float().cpu()


def build_from_state_dict(sd: dict[str, Tensor], device: str | torch.device = "cpu", fast: bool = True) -> nn.Module:
    """torch-fidelity's extractor holding `sd`, in eval mode; `fast` folds BatchNorm into the
    convs and uses channels-last memory (same features to float rounding)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    buf = io.BytesIO()
    torch.save(sd, buf)  # our own tensors: the extractor's pickle load of this buffer is safe
    buf.seek(0)
    net = FeatureExtractorInceptionV3("inception-v3-compat", list(FEATURES), feature_extractor_weights_path=buf)
    if fast:
        fold_batchnorm(net)
        net = net.to(memory_format=torch.channels_last)
    net = net.to(device)
    net.requires_grad_(False)
    return net.eval()


_LOADED: dict[tuple[str, str, str, bool], Inception] = {}
_WARNED: set[str] = set()


def is_fid_inception(sha256: str) -> bool:
    """Whether a file with this sha256 is the FID Inception release file."""
    return sha256.startswith(FID_SHA256_PREFIX)


def unverified_message(path: Path, sha256: str) -> str:
    return (f"{path}: not the FID Inception (its sha256 starts {sha256[:8]}, the release file's {FID_SHA256_PREFIX}, "
            f"as in {FIDELITY_NAME}); the layout fits, so it is used, but IS / FID / KID from it are NOT "
            "comparable with published numbers")


def load_inception(weights: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu",
                   fast: bool = True, warn_unverified: bool = True) -> Inception:
    """Resolve, load and build the FID Inception (see the module doc for where it looks).
    Kept per (file contents, device) for the process: several runs share one network.
    Weights that are not the release file are used with a warning, once per file
    (`warn_unverified=False`: the caller has said so already)."""
    path = resolve_weights(weights)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GccGanError("--device cuda: no CUDA device is available")
    digest = file_sha256(path)
    key = (digest, str(path.resolve()), str(dev), fast)
    if key not in _LOADED:
        net = build_from_state_dict(load_state_dict(path), dev, fast=fast)
        _LOADED.clear()  # one network at a time: ~95 MB each
        _LOADED[key] = Inception(net=net, path=path, sha256=digest, device=dev, verified=is_fid_inception(digest))
    if warn_unverified and not _LOADED[key].verified and digest not in _WARNED:
        from ..console import warn

        _WARNED.add(digest)
        warn(unverified_message(path, digest))
    return _LOADED[key]


def random_state_dict(seed: int = 0) -> dict[str, Tensor]:
    """Random Inception weights in the real file's layout, scaled so activations neither
    vanish nor explode through the 47 layers (He-normal convs, unit BatchNorm, small fc).
    For tests and benchmarks on machines without the real file."""
    g = torch.Generator().manual_seed(seed)
    sd = copy.deepcopy(_torchvision_fid_inception().state_dict())
    for k, v in sd.items():
        if k.endswith("conv.weight"):
            fan_in = v[0].numel()
            sd[k] = torch.randn(v.shape, generator=g) * (2.0 / fan_in) ** 0.5
        elif k == "fc.weight":
            sd[k] = torch.randn(v.shape, generator=g) * (1.0 / v.shape[1]) ** 0.5
        elif k == "fc.bias":
            sd[k] = torch.randn(v.shape, generator=g) * 0.1
    return sd


def save_random_weights(path: str | os.PathLike[str], seed: int = 0) -> Path:
    from ..atomic import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(random_state_dict(seed), buf)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)
