"""Audio to spikes: an SHD-style cochlea front end and data-set encoding (``spikerec data encode``).

    from spikerec.datasets.audio import Cochlea, encode_audio_dataset
    times_s, units = Cochlea().encode(waveform, sample_rate_hz=16000, seed=0)   # one recording
    encode_audio_dataset("recordings/", "data/mine")   # -> data/mine/shd_train.h5, shd_test.h5

See docs/audio.md for the model, its constants and their sources.
"""

from spikerec.datasets.audio.cochlea import Cochlea, CochleaConfig, resample
from spikerec.datasets.audio.encode import encode_audio_dataset
from spikerec.datasets.audio.manifest import AudioItem, Manifest, read_manifest, split_items
from spikerec.datasets.audio.audiofile import read_audio

__all__ = ["AudioItem", "Cochlea", "CochleaConfig", "Manifest", "encode_audio_dataset", "read_audio",
           "read_manifest", "resample", "split_items"]
