"""Networks, pure PyTorch (this package imports only torch and its own ops):

    stylegan2    StyleGAN2 G and D, rosinality's state-dict layout, fast paths + references
    stylegan1    progressive StyleGAN (1), rosinality's style-based-gan-pytorch layout
    dcgan        the gan-face-generate DCGAN (PyTorch tutorial layout) and a matching D
    dlib_resnet  dlib's face-descriptor ResNet, ported (identity loss)
    ops          upfirdn2d, 3x3 Winograd conv, bias + leaky ReLU

Building them from a config and calling them the same way for every architecture is the job
of uncanny.adapters.
"""
