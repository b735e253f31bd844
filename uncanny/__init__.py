"""uncanny-lab: explore what generative models see as fake.

Verbs (each a module with a Python API, and a subcommand of the `uncanny` CLI):
    foil     fine-tune a generator against its frozen discriminator, objective inverted
    sample   grids of samples from a checkpoint or foil snapshot
    train    train a StyleGAN2 on a folder of aligned faces
    data     prepare (detect, align, crop) a folder of photos
    measure  human-likeness and diversity of samples, judged by dlib rather than the GAN
    demo     a short foil run on the embedded default model
"""

__version__ = "0.1.0"

from .errors import UncannyError  # noqa: F401
