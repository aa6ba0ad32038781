"""AutoGAN's REINFORCE strategy: an LSTM controller and its policy-gradient update.

Controller (official models_search/controller.py): an LSTMCell(hid, hid); step 0 reads a
zero input, step t > 0 the embedding of action t−1 (one embedding table over all tokens,
offset by the earlier tokens' sizes); one linear head per token; softmax sampling. The
initial (h, c) is zero, or at a later stage the final (h, c) of a top-K prefix, so the new
controller continues the old one's sequence. PyTorch default init (the official
`weights_init` touches only Conv/BN).

Update modes (notes §1.4, quirks 1-2):
* `clean` (default; the paper's REINFORCE): scalar reward r = R + c·ΣH (entropy bonus in the
  reward, as the paper and the official code add it), scalar EMA baseline b ← d·b + (1−d)·r
  (b = r at the first step), kept across search iterations within a stage; loss =
  −(Σ_t log p_t)·(r − b).
* `faithful`: the official train_controller exactly: reward (1,1) + c·entropies (T,1) gives a
  per-token reward with gradient through the entropies; the baseline (T,1) is re-created at
  every controller phase; loss = sum(−log_probs (1,T) * adv (T,1)) = −(Σ log p)(Σ adv).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MODES = ("clean", "faithful")


@dataclass
class Sample:
    actions: list[int]
    log_probs: Tensor  # (T,) with grad
    entropies: Tensor  # (T,) with grad
    hidden: tuple[Tensor, Tensor]  # final (h, c), each (1, hid)


class Controller(nn.Module):
    def __init__(self, tokens: list[int], hid: int) -> None:
        super().__init__()
        self.tokens, self.hid = list(tokens), hid
        self.lstm = nn.LSTMCell(hid, hid)
        self.encoder = nn.Embedding(sum(tokens), hid)
        self.decoders = nn.ModuleList(nn.Linear(hid, t) for t in tokens)

    def _zeros(self) -> Tensor:
        w = self.encoder.weight
        return torch.zeros(1, self.hid, device=w.device, dtype=w.dtype)

    def sample(self, gen: torch.Generator | None, hidden: tuple[Tensor, Tensor] | None = None,
               forced: list[int] | None = None) -> Sample:
        """One architecture (batch 1); `forced` scores given actions instead of sampling."""
        x = self._zeros()
        h = hidden if hidden is not None else (self._zeros(), self._zeros())
        dev = x.device
        actions: list[int] = []
        logps, ents = [], []
        for t, dec in enumerate(self.decoders):
            h = self.lstm(x, h)
            logit = dec(h[0])[0]
            logp = F.log_softmax(logit, -1)
            p = logp.exp()
            ents.append(-(logp * p).sum())
            if forced is not None:
                a = int(forced[t])
            else:  # drawn on the CPU from the step's generator: one sequence on every device
                a = int(torch.multinomial(p.detach().float().cpu(), 1, generator=gen))
            actions.append(a)
            logps.append(logp[a])
            x = self.encoder(torch.tensor([a + sum(self.tokens[:t])], device=dev))
        return Sample(actions, torch.stack(logps), torch.stack(ents), h)

    @torch.no_grad()
    def distributions(self, hidden: tuple[Tensor, Tensor] | None) -> list[list[float]]:
        """The token distributions along the greedy (most likely) sequence: deterministic,
        consumes no randomness (for the history and the plot)."""
        x = self._zeros()
        h = hidden if hidden is not None else (self._zeros(), self._zeros())
        dev = x.device
        out = []
        for t, dec in enumerate(self.decoders):
            h = self.lstm(x, h)
            p = torch.softmax(dec(h[0])[0], -1).float().cpu()
            out.append([float(v) for v in p])
            a = int(p.argmax())
            x = self.encoder(torch.tensor([a + sum(self.tokens[:t])], device=dev))
        return out


def clean_loss(s: Sample, reward: float, baseline: float | None, entropy_coeff: float,
               decay: float) -> tuple[Tensor, float, float]:
    """(loss, r, new baseline): scalar reward with entropy bonus, scalar EMA baseline."""
    r = reward + entropy_coeff * float(s.entropies.detach().sum())
    b = r if baseline is None else decay * baseline + (1 - decay) * r
    return -(s.log_probs.sum() * (r - b)), r, b


def faithful_loss(s: Sample, reward: float, baseline: Tensor | None, entropy_coeff: float,
                  decay: float) -> tuple[Tensor, Tensor, Tensor]:
    """(loss, per-token rewards, new baseline): official functions.py:206-222 at batch 1,
    shapes and broadcasting as there."""
    selected_log_probs = s.log_probs.view(1, -1)  # bs × T
    entropies = s.entropies.view(-1, 1)  # torch.cat(entropies, 0): T × 1
    rewards = torch.tensor([reward], dtype=entropies.dtype, device=entropies.device).unsqueeze(-1) \
        + entropy_coeff * entropies
    b = rewards if baseline is None else decay * baseline.detach() + (1 - decay) * rewards
    adv = rewards - b
    loss = (-selected_log_probs * adv).sum()
    return loss, rewards, b
