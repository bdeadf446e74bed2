"""The Network IR and its file formats.

In: a trained torch model (:mod:`.from_model`), a run directory or a file (:mod:`.load`). Out: a
:class:`~spikerec.hardware.ir.network.Network` (numpy arrays + metadata, no torch), saved as the HDF5 Network
file (:mod:`.network`), NIR (:mod:`.nir`) or Lava-dl netx (:mod:`.lava`); :mod:`.export` picks the format.
"""
