"""A small ResNet of basic blocks, written exactly as a PyTorch user would; porting it is the import lines.

Run it with `python examples/pytorch_style/resnet_block.py`. Replacing the three `descend` imports below with
`import torch`, `import torch.nn as nn` and `import torch.nn.functional as F` gives the PyTorch original;
tests/test_examples_arch.py runs both from the same initial weights and compares their loss curves.
"""

import descend as torch
import descend.nn as nn
import descend.nn.functional as F


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, block=BasicBlock, num_blocks=(1, 1, 1), num_classes=10, in_channels=1, width=8):
        super().__init__()
        self.in_planes = width
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self._make_layer(block, width, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 2 * width, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 4 * width, num_blocks[2], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.linear = nn.Linear(4 * width * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block, planes, num_blocks, stride):
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = torch.flatten(self.avgpool(out), 1)
        return self.linear(out)


def train(model, images, labels, steps=20, batch_size=32, lr=0.05):
    """SGD with momentum and weight decay over the data in order; returns the loss of every step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss()
    model.train()
    losses = []
    for step in range(steps):
        start = (step * batch_size) % images.shape[0]
        x, y = images[start:start + batch_size], labels[start:start + batch_size]
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def accuracy(model, images, labels):
    model.eval()
    return (model(images).argmax(dim=1) == labels).float().mean().item()


def main():
    torch.manual_seed(0)
    labels = torch.randint(0, 10, (512,))
    # Each class is a bright bar at its own place on a noisy 28x28 image, a little brighter overall per class.
    images = 0.5 * torch.randn(512, 1, 28, 28)
    for k in range(10):
        row, col = 2 + (k // 5) * 12, 2 + (k % 5) * 5
        images[labels == k] += 0.1 * k
        images[labels == k, :, row:row + 8, col:col + 4] += 1.0
    model = ResNet()
    losses = train(model, images, labels, steps=60)
    print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}, training accuracy {accuracy(model, images, labels):.1%}")


if __name__ == "__main__":
    main()
