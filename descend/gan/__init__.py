"""Generative adversarial training and the metrics and diagnoses that watch a generator for mode collapse."""

from descend.gan.diagnose import GanDoctor, Setting, run_rules
from descend.gan.loop import GanTrainer
from descend.gan.evaluate import ModeReport, class_coverage, mode_report, near_duplicate_rate
from descend.gan.models import (Maxout, conv_generator, mixture_discriminator, mixture_generator,
                                mlp_discriminator, mlp_generator, normal_init_)
from descend.gan.step import GAN, Batches, train_gan

__all__ = ["GAN", "Batches", "train_gan", "GanTrainer", "GanDoctor", "Setting", "run_rules", "ModeReport",
           "class_coverage", "mode_report", "near_duplicate_rate", "Maxout", "conv_generator",
           "mixture_discriminator", "mixture_generator", "mlp_discriminator", "mlp_generator", "normal_init_"]
