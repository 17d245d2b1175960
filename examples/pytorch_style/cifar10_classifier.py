"""The 60-minute-blitz CIFAR-10 classifier, written as a plain PyTorch script.

Conv-pool-conv-pool and three fully connected layers, CrossEntropyLoss, SGD with momentum, a DataLoader with
worker processes, saving and reloading the state dict, overall and per-class accuracy. The 3x32x32 images
are generated (a coloured square whose colour and place depend on the class, plus noise) from a NumPy seed.

    python examples/pytorch_style/cifar10_classifier.py --epochs 2 --print-every 100
"""

import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, Dataset

classes = ('plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')


class GeneratedCIFAR(Dataset):
    """CIFAR-sized images, normalised to [-1, 1] as the tutorial's transform does."""

    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        self.labels = rng.integers(0, 10, n)
        palette = rng.random((10, 3))
        self.images = rng.random((n, 3, 32, 32)).astype(np.float32) * 0.4
        for i, label in enumerate(self.labels):
            row, col = 4 + (label // 5) * 14, 2 + (label % 5) * 6
            self.images[i, :, row:row + 10, col:col + 6] += 0.6 * palette[label, :, None, None]
        self.images = (self.images - 0.5) / 0.5

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return torch.from_numpy(self.images[idx]), int(self.labels[idx])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def main():
    parser = argparse.ArgumentParser(description='Blitz CIFAR-10 classifier (generated images)')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--train-size', type=int, default=4000)
    parser.add_argument('--test-size', type=int, default=1000)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--print-every', type=int, default=200)
    parser.add_argument('--no-shuffle', action='store_true', default=False)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--init-in', type=str, default=None)
    parser.add_argument('--init-out', type=str, default=None)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')
    print(device)

    trainset = GeneratedCIFAR(args.train_size, args.seed)
    trainloader = DataLoader(trainset, batch_size=args.batch_size, shuffle=not args.no_shuffle,
                             num_workers=args.num_workers)
    testset = GeneratedCIFAR(args.test_size, args.seed + 1)
    testloader = DataLoader(testset, batch_size=args.batch_size, shuffle=False,
                            num_workers=args.num_workers)

    net = Net()
    if args.init_out:
        np.savez(args.init_out, **{k: v.detach().cpu().numpy() for k, v in net.state_dict().items()})
    if args.init_in:
        net.load_state_dict({k: torch.tensor(v) for k, v in np.load(args.init_in).items()})
    net.to(device)

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

    for epoch in range(args.epochs):  # loop over the dataset multiple times
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            # get the inputs; data is a list of [inputs, labels]
            inputs, labels = data[0].to(device), data[1].to(device)

            # zero the parameter gradients
            optimizer.zero_grad()

            # forward + backward + optimize
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            # print statistics
            running_loss += loss.item()
            if i % args.print_every == args.print_every - 1:
                print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / args.print_every:.8f}')
                running_loss = 0.0

    print('Finished Training')

    PATH = './cifar_net.pth'
    torch.save(net.state_dict(), PATH)

    dataiter = iter(testloader)
    images, labels = next(dataiter)
    print('GroundTruth: ', ' '.join(f'{classes[labels[j]]:5s}' for j in range(len(labels))))

    net = Net()
    net.load_state_dict(torch.load(PATH, weights_only=True))
    net.to(device)
    outputs = net(images.to(device))
    _, predicted = torch.max(outputs, 1)
    print('Predicted: ', ' '.join(f'{classes[predicted[j]]:5s}' for j in range(len(labels))))

    correct = 0
    total = 0
    # since we're not training, we don't need to calculate the gradients for our outputs
    with torch.no_grad():
        for data in testloader:
            images, labels = data[0].to(device), data[1].to(device)
            outputs = net(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()

    print(f'Accuracy of the network on the {total} test images: {100 * correct // total} %')

    # prepare to count predictions for each class
    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}

    with torch.no_grad():
        for data in testloader:
            images, labels = data[0].to(device), data[1].to(device)
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1

    for classname, correct_count in correct_pred.items():
        if total_pred[classname]:
            accuracy = 100 * float(correct_count) / total_pred[classname]
            print(f'Accuracy for class: {classname:5s} is {accuracy:.1f} %')


if __name__ == '__main__':
    main()
