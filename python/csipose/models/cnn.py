"""``cnn``: a MetaFi-style convolutional network over the (subcarrier, packet) image.

Every frame is an image of C channels (antenna x feature) over S subcarriers and P packets;
three conv-BN-ReLU stages (``width / 2``, ``width``, ``2 width`` filters, kernels 5x3, 3x3, 3x3)
pool the subcarrier axis by 2, 2 and to 8 bins (the packets to 2), then two fully connected
layers regress the joints from the W frames' averaged features.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["Cnn"]


def _stage(cin: int, cout: int, kernel: tuple[int, int]) -> list[nn.Module]:
    pad = (kernel[0] // 2, kernel[1] // 2)
    return [nn.Conv2d(cin, cout, kernel, padding=pad), nn.BatchNorm2d(cout), nn.ReLU()]


class Cnn(nn.Module):
    """MetaFi-style CNN; ``features`` = ``4 * width``."""

    def __init__(self, *, shape: tuple[int, int, int, int], groups: int, joints: int, dims: int,
                 width: int = 64, dropout: float = 0.1) -> None:
        super().__init__()
        del groups
        _, c, _, _ = shape
        self.joints, self.dims, self.features = joints, dims, 4 * width
        half, double = max(8, width // 2), 2 * width
        self.conv = nn.Sequential(
            *_stage(c, half, (5, 3)), nn.MaxPool2d((2, 1), ceil_mode=True),
            *_stage(half, width, (3, 3)), nn.MaxPool2d((2, 1), ceil_mode=True),
            *_stage(width, double, (3, 3)), nn.AdaptiveAvgPool2d((8, 2)),
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(double * 16, self.features), nn.ReLU(), nn.Dropout(dropout))
        self.head = nn.Linear(self.features, joints * dims)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x: float[B, W, C, S, P]`` -> offsets ``[B, J, D]``, features ``[B, 4 width]``."""
        features = self.encode(x)
        return self.head(features).reshape(-1, self.joints, self.dims), features

    def encode(self, x: Tensor) -> Tensor:
        """``x: float[B, W, C, S, P]`` -> the pooled features ``[B, 4 width]`` that ``head`` reads."""
        b, w = x.shape[:2]
        return self.fc(self.conv(x.flatten(0, 1))).reshape(b, w, -1).mean(dim=1)
