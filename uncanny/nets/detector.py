"""A small CNN that tells generated faces from photographs (trained from scratch here; see
uncanny.detector_train). Input: aligned faces (B, 3, 64, 64) in [0, 1]; output: a logit (B, 1),
positive = fake. `features` is the last convolutional block, where Grad-CAM looks.

    net = FakeDetector()
    logit = net(x)                 # (B, 1)
"""

from __future__ import annotations

import torch
from torch import nn

MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class FakeDetector(nn.Module):
    def __init__(self, width: int = 32, size: int = 64):
        super().__init__()
        self.size = size
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        w = width
        # 64 -> 32 -> 16 -> 8: the 8x8 maps of the last block are what Grad-CAM weighs
        self.blocks = nn.Sequential(_block(3, w), nn.MaxPool2d(2), _block(w, 2 * w), nn.MaxPool2d(2),
                                    _block(2 * w, 4 * w), nn.MaxPool2d(2), _block(4 * w, 8 * w))
        self.head = nn.Linear(8 * w, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 64, 64) in [0, 1] -> (B, 8w, 8, 8)."""
        return self.blocks((x - self.mean) / self.std)

    def classify(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(feats.mean((2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))
