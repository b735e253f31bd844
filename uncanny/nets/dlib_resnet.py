"""dlib's face-recognition ResNet (dlib_face_recognition_resnet_model_v1) in PyTorch.

dlib measures identity with this network: a 150x150 face chip goes in, a 128-D descriptor
comes out, and two faces closer than 0.6 are taken to be the same person. Ported here so the
descriptor is differentiable (projection can use it as a loss) and runs on a GPU too. The
weights are read from dlib's own file, shipped by `face_recognition_models` (a plain binary
stream, no code in it), by uncanny.formats.read_dlib_face_net:

    net = read_dlib_face_net(path)                # about 1 s, 5.6M parameters
    desc = net(chips)                             # chips (B, 3, 150, 150) RGB in [0, 255] -> (B, 128)

The architecture is dlib's `anet_type` from dnn_face_recognition_ex.cpp (a ResNet-29 with
32..256 channels). Two details of dlib that matter for equality: strided convolutions and
poolings have no padding, and a residual addition of tensors of different sizes adds the
overlap (the smaller tensor is zero-padded at the bottom / right and in channels).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# dlib's input_rgb_image_sized<150>: (pixel - mean) / 256, means stored in the file.
CHIP_SIZE = 150
# (out channels, first block strided, blocks) from the input side: level4 .. level0.
LEVELS = ((32, False, 3), (64, True, 4), (128, True, 3), (256, True, 3), (256, True, 1))


def _add_overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev for tensors of different shapes: zero-pad both to the larger size
    (bottom / right, extra channels) and add."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))
    pad = lambda t: F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))  # noqa: E731
    return pad(a) + pad(b)


class Affine(nn.Module):
    """dlib's affine_ layer: a frozen batch norm, y = gamma * x + beta per channel."""

    def __init__(self, ch: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(ch))
        self.beta = nn.Parameter(torch.zeros(ch))

    def forward(self, x):
        return x * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


class Block(nn.Module):
    """relu(skip(x) + affine(conv(relu(affine(conv(x)))))); a strided block halves the size
    (3x3 stride 2 without padding) and its skip path is a 2x2 average pool."""

    def __init__(self, cin: int, cout: int, down: bool):
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.bn1 = Affine(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = Affine(cout)

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        skip = F.avg_pool2d(x, 2) if self.down else x
        return F.relu(_add_overlap(y, skip))


class DlibFaceNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([122.782, 117.001, 104.298]).view(1, 3, 1, 1))
        self.conv = nn.Conv2d(3, 32, 7, stride=2, padding=0)
        self.bn = Affine(32)
        blocks, cin = [], 32
        for cout, down, n in LEVELS:
            for i in range(n):
                blocks.append(Block(cin, cout, down and i == 0))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(256, 128, bias=False)

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        """(B, 3, 150, 150) RGB in [0, 255] -> (B, 128) descriptors."""
        x = (chips - self.mean) / 256.0
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 3, stride=2)  # 150 -> 72 -> 35
        x = self.blocks(x)                                             # 35 -> 17 -> 8 -> 4 -> 2
        return self.fc(x.mean(dim=(2, 3)))
