"""Adaptive pseudo augmentation (APA): its controller and its swap as pure functions, and the
trainer's p moving the way D's verdict on the rows it is told are real says."""

import pytest
import torch
from torch import nn

from uncanny.train import Trainer, TrainConfig, apa_adjust, pseudo_augment


@pytest.mark.parametrize("p, signs, count, target, kimg, expected", [
    (0.0, 64, 64, 0.6, 20.0, 64 / 20000),         # D sure of every photo: p rises by count / (kimg * 1000)
    (0.5, -64, 64, 0.6, 20.0, 0.5 - 64 / 20000),  # D unsure: p falls by the same
    (0.0, -64, 64, 0.6, 20.0, 0.0),               # never below 0
    (0.999, 64, 64, 0.3, 0.001, 1.0),             # never above 1
    (0.3, 20, 64, 0.3125, 20.0, 0.3),             # r_t exactly on target: p stays
    (0.3, 0, 0, 0.6, 20.0, 0.3),                  # no sign gathered: p stays
])
def test_apa_adjust_on_rows(p, signs, count, target, kimg, expected):
    assert apa_adjust(p, signs, count, target, kimg) == pytest.approx(expected, abs=1e-12)


def test_pseudo_augment_swaps_rows_with_probability_p():
    real, fake = torch.zeros(4000, 3, 2, 2), torch.ones(4000, 3, 2, 2)
    out, swapped = pseudo_augment(real, fake, 0.0)
    assert torch.equal(out, real) and not swapped.any()
    out, swapped = pseudo_augment(real, fake, 1.0)
    assert torch.equal(out, fake) and swapped.all()
    torch.manual_seed(0)
    out, swapped = pseudo_augment(real, fake, 0.3)
    assert torch.equal(out[swapped], fake[swapped]) and torch.equal(out[~swapped], real[~swapped])
    assert 0.27 < swapped.float().mean().item() < 0.33
    fake.requires_grad_(True)
    out, _ = pseudo_augment(real, fake, 1.0)
    assert not out.requires_grad        # D's step never reaches G through the swapped rows


class FixedVerdict(nn.Module):
    """A D whose logit is `verdict` for every image (a parameter, so its optimiser has work)."""

    def __init__(self, verdict: float):
        super().__init__()
        self.b = nn.Parameter(torch.tensor(verdict))

    def forward(self, x):
        return self.b + 0 * x.mean(dim=(1, 2, 3))


class Noise2Image(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 3 * 4 * 4))

    def forward(self, zs, **_):
        return (zs[0] @ self.w).view(-1, 3, 4, 4).tanh(), None


def _trainer(verdict, apa=0.6, p0=0.0):
    cfg = TrainConfig(data="-", out="-", batch=8, style_dim=8, apa=apa, apa_kimg=0.1, augment="", mixing=0.0)
    G, G_ema = Noise2Image(), Noise2Image()
    t = Trainer(cfg, G, FixedVerdict(verdict), G_ema, torch.device("cpu"))
    t.apa_p = p0
    return t


def test_p_rises_when_d_is_sure_of_the_photos_and_falls_when_not():
    torch.manual_seed(0)
    real = lambda: torch.rand(8, 3, 4, 4) * 2 - 1  # noqa: E731
    sure, unsure = _trainer(+5.0), _trainer(-5.0, p0=0.9)
    ps_sure, ps_unsure = [], []
    for i in range(12):
        ps_sure.append(sure.step(i, real)["apa_p"])
        ps_unsure.append(unsure.step(i, real)["apa_p"])
    # p moves only every apa_every (4) steps, by the photos seen / (apa_kimg * 1000)
    assert ps_sure[:3] == [0.0] * 3 and ps_sure[3] == pytest.approx(32 / 100)
    assert ps_sure[3] < ps_sure[7] < ps_sure[11] <= 1.0
    assert ps_unsure[:3] == [0.9] * 3 and ps_unsure[3] == pytest.approx(0.9 - 32 / 100) and ps_unsure[11] < ps_unsure[7] < ps_unsure[3]
    assert sure.step(12, real)["r_t"] == 1.0 and unsure.step(12, real)["r_t"] == -1.0


def test_r_t_counts_the_swapped_rows_so_p_settles():
    """D calls photos real and samples fake: r_t over the rows it is told are real falls as p
    rises (1 - 2p), so p settles where r_t meets the target instead of running to 1."""
    t = _trainer(0.0, apa=0.5, p0=0.0)
    t.D.forward = lambda x: (x.mean(dim=(1, 2, 3)) > 0.5).float() * 10 - 5 + 0 * t.D.b + 0 * x.mean(dim=(1, 2, 3))
    t.G.forward = lambda zs, **_: (torch.zeros(len(zs[0]), 3, 4, 4) + 0 * t.G.w.sum(), None)
    t.cfg.apa_kimg = 1.0          # p moves by 32 / 1000 per adjustment
    photos = lambda: torch.ones(8, 3, 4, 4)  # noqa: E731
    ps = [t.step(i, photos)["apa_p"] for i in range(400)]
    assert 0.15 < sum(ps[-100:]) / 100 < 0.35   # r_t = 1 - 2p meets 0.5 at p = 0.25


def test_apa_off_leaves_p_at_zero_and_d_sees_only_photos():
    t = _trainer(+5.0, apa=0.0)
    seen = []
    t.D.forward = lambda x: (seen.append(x.detach().clone()), x.mean(dim=(1, 2, 3)) * 0 + t.D.b)[1]
    photos = torch.full((8, 3, 4, 4), 0.25)
    for i in range(8):
        assert t.step(i, lambda: photos.clone())["apa_p"] == 0.0
    # D's calls per step: samples, photos, (R1 on photos at step 0), G's samples
    assert torch.equal(seen[1], photos) and torch.equal(seen[2], photos)
