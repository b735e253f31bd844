"""uncanny-lab: explore what generative models see as fake.

Verbs (each a module with a config dataclass and a Python API, and a subcommand of the
`uncanny` CLI built from that config):
    foil     fine-tune a generator against its frozen discriminator, objective inverted
    project  put real faces into the latent space and film the search
    render   a projected latent through the snapshots of a foil run
    edit     latent directions (SeFa, GANSpace, attributes) applied to seeds, latents, foil runs
    detect   real/fake scores with Grad-CAM maps (detector64, or a GAN's own D); `detector train`
    attack   adversarial perturbations that flip a detector's verdict
    sample   grids of samples from a checkpoint or foil snapshot
    train    train a StyleGAN2 on a folder of aligned faces
    data     prepare (detect, align, crop) a folder of photos
    measure  human-likeness and diversity of samples, judged by dlib rather than the GAN
    convert  rosinality / NVIDIA checkpoints to ours and back
    demo     a short foil run on the embedded default model

Underneath: nets (torch only) < checkpoint, formats < adapters (one per architecture) < verbs
< cli. Run folders follow one set of rules (runs.RunFolder).
"""

__version__ = "0.1.0"

from .errors import UncannyError  # noqa: F401
