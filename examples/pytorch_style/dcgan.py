"""The PyTorch DCGAN tutorial (Radford et al. 2016), its networks and training loop, adapted to 28x28 grey
images; porting it is the import lines.

Run it with `python examples/pytorch_style/dcgan.py`. Replacing each `descend` in the import lines below with
`torch` gives the PyTorch original; tests/test_examples_arch.py runs both from the same initial weights, data
and noise and compares their loss curves. The tutorial's 64x64 networks (five layers) become three layers
here: the generator maps z to 7x7 and doubles twice; the discriminator mirrors it.
"""

import descend as torch
import descend.nn as nn
import descend.optim as optim
import descend.utils.data

nz = 100      # size of the latent vector z
ngf = 64      # width of the generator's feature maps
ndf = 64      # width of the discriminator's feature maps
nc = 1        # image channels
lr = 0.0002
beta1 = 0.5


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 7, 1, 0, bias=False),       # (ngf*4) x 7 x 7
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),  # (ngf*2) x 14 x 14
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False),       # nc x 28 x 28
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),                    # ndf x 14 x 14
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),               # (ndf*2) x 7 x 7
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False),                 # 1 x 1 x 1
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input)


def make_noise(n):
    return torch.randn(n, nz, 1, 1)


def train(netG, netD, dataloader, num_epochs=1):
    """The tutorial's loop: maximise log D(x) + log(1 - D(G(z))), then maximise log D(G(z))."""
    criterion = nn.BCELoss()
    optimizerD = optim.Adam(netD.parameters(), lr=lr, betas=(beta1, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=lr, betas=(beta1, 0.999))
    real_label, fake_label = 1.0, 0.0
    G_losses, D_losses = [], []
    for epoch in range(num_epochs):
        for i, data in enumerate(dataloader, 0):
            # (1) Update D with an all-real batch, then an all-fake batch
            netD.zero_grad()
            real_cpu = data[0]
            b_size = real_cpu.size(0)
            label = torch.full((b_size,), real_label)
            output = netD(real_cpu).view(-1)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()
            noise = make_noise(b_size)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach()).view(-1)
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()
            # (2) Update G: fake labels are real for the generator's cost
            netG.zero_grad()
            label.fill_(real_label)
            output = netD(fake).view(-1)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()
            if i % 10 == 0:
                print(f"[{epoch}/{num_epochs}][{i}/{len(dataloader)}]\tLoss_D: {errD.item():.4f}\t"
                      f"Loss_G: {errG.item():.4f}\tD(x): {D_x:.4f}\tD(G(z)): {D_G_z1:.4f} / {D_G_z2:.4f}")
            G_losses.append(errG.item())
            D_losses.append(errD.item())
    return G_losses, D_losses


def main():
    torch.manual_seed(999)
    # Stand-in data: bright vertical or horizontal bars on a dark 28x28 background, in [-1, 1] like the tutorial's.
    images = -torch.ones(512, nc, 28, 28)
    for k in range(512):
        pos = 4 + (k * 7) % 18
        if k % 2:
            images[k, :, :, pos:pos + 4] = 1.0
        else:
            images[k, :, pos:pos + 4, :] = 1.0
    dataset = torch.utils.data.TensorDataset(images)
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True)
    netG = Generator()
    netG.apply(weights_init)
    netD = Discriminator()
    netD.apply(weights_init)
    G_losses, D_losses = train(netG, netD, dataloader, num_epochs=2)
    print(f"Loss_G {G_losses[0]:.3f} -> {G_losses[-1]:.3f}, Loss_D {D_losses[0]:.3f} -> {D_losses[-1]:.3f}")


if __name__ == "__main__":
    main()
