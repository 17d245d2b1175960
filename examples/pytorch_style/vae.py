"""A variational autoencoder on MNIST-sized images, written as a plain PyTorch script.

Reparameterisation trick, binary cross-entropy reconstruction plus the KL divergence to N(0, I), Adam.
The images are generated (soft blobs in [0, 1]) from a NumPy seed instead of downloaded. With
`--numpy-noise` the reparameterisation noise comes from NumPy too, so two frameworks can be compared step by
step; without it the noise is `torch.randn_like`, as usual.

    python examples/pytorch_style/vae.py --epochs 2
"""

import argparse

import numpy as np
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F

parser = argparse.ArgumentParser(description='VAE Example (generated images)')
parser.add_argument('--batch-size', type=int, default=128, metavar='N')
parser.add_argument('--epochs', type=int, default=10, metavar='N')
parser.add_argument('--no-accel', action='store_true', default=False, help='disables the accelerator')
parser.add_argument('--seed', type=int, default=1, metavar='S')
parser.add_argument('--log-interval', type=int, default=10, metavar='N')
parser.add_argument('--train-size', type=int, default=1024)
parser.add_argument('--test-size', type=int, default=256)
parser.add_argument('--hidden', type=int, default=400)
parser.add_argument('--latent', type=int, default=20)
parser.add_argument('--numpy-noise', action='store_true', default=False,
                    help='draw the reparameterisation noise with NumPy (for comparisons)')
parser.add_argument('--init-in', type=str, default=None)
parser.add_argument('--init-out', type=str, default=None)
args = parser.parse_args()
use_accel = not args.no_accel and torch.accelerator.is_available()

torch.manual_seed(args.seed)
noise_rng = np.random.default_rng(args.seed)

if use_accel:
    device = torch.accelerator.current_accelerator()
else:
    device = torch.device("cpu")
print(f"Using {device} device")


def blobs(n, seed):
    """Images in [0, 1]: one Gaussian blob each, at a random centre."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28]
    centres = rng.uniform(6, 22, size=(n, 2))
    d2 = (yy[None] - centres[:, 0, None, None]) ** 2 + (xx[None] - centres[:, 1, None, None]) ** 2
    images = np.exp(-d2 / 18.0)[:, None].astype(np.float32)
    return torch.from_numpy(images), torch.zeros(n, dtype=torch.long)


kwargs = {'num_workers': 1, 'pin_memory': True} if use_accel else {}
train_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(*blobs(args.train_size, args.seed)),
    batch_size=args.batch_size, shuffle=False, **kwargs)
test_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(*blobs(args.test_size, args.seed + 1)),
    batch_size=args.batch_size, shuffle=False, **kwargs)


class VAE(nn.Module):
    def __init__(self, hidden=400, latent=20):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        if args.numpy_noise:
            eps = torch.from_numpy(noise_rng.standard_normal(std.shape).astype(np.float32)).to(std.device)
        else:
            eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


model = VAE(args.hidden, args.latent).to(device)
if args.init_out:
    np.savez(args.init_out, **{k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})
if args.init_in:
    model.load_state_dict({k: torch.tensor(v) for k, v in np.load(args.init_in).items()})
optimizer = optim.Adam(model.parameters(), lr=1e-3)


# Reconstruction + KL divergence losses summed over all elements and batch
def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')
    # KL(q(z|x) || N(0, I)) = -0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2), Kingma and Welling, appendix B
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def train(epoch):
    model.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(train_loader):
        data = data.to(device)
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader),
                loss.item() / len(data)))

    print('====> Epoch: {} Average loss: {:.6f}'.format(
          epoch, train_loss / len(train_loader.dataset)))


def test(epoch):
    model.eval()
    test_loss = 0
    with torch.no_grad():
        for i, (data, _) in enumerate(test_loader):
            data = data.to(device)
            recon_batch, mu, logvar = model(data)
            test_loss += loss_function(recon_batch, data, mu, logvar).item()
            if i == 0:
                n = min(data.size(0), 8)
                comparison = torch.cat([data[:n], recon_batch.view(-1, 1, 28, 28)[:n]])
                assert comparison.shape == (2 * n, 1, 28, 28)

    test_loss /= len(test_loader.dataset)
    print('====> Test set loss: {:.6f}'.format(test_loss))


if __name__ == "__main__":
    for epoch in range(1, args.epochs + 1):
        train(epoch)
        test(epoch)
        with torch.no_grad():
            sample = torch.randn(64, args.latent).to(device)
            sample = model.decode(sample).cpu()
            print('====> Sample mean: {:.4f}'.format(sample.view(64, 1, 28, 28).mean().item()))
