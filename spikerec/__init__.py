"""spikerec: spiking neural networks with learnable delays and heterogeneous neurons.

Train on SHD/SSC (or built-in synthetic data), prune, export to neuromorphic hardware
simulators and estimate energy. Tensors are time-major ``[T, B, ...]``; times are in ms.
"""

from spikerec.errors import SpikerecError

__version__ = "0.1.0"

__all__ = ["SpikerecError", "__version__"]
