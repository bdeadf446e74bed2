"""Xylo profile vs SynSense's bit-accurate simulator (``xylosim.v1.XyloLayer``, optional extra ``spikerec[xylo]``):
identical hidden spikes and readout membranes, step for step; what does not fit is a typed error, never a crash."""

from __future__ import annotations

import numpy as np
import pytest

from hardware_models import ir_network, random_frames
from spikerec.errors import ConfigError
from spikerec.hardware.ir.profile import load_profile
from spikerec.hardware.ir.quantize import LayerRange, quantize_network
from spikerec.hardware.simulators.xylosim import (XylosimError, _run_isolated, compare_with_xylosim, xylo_spec,
                                                  xylosim_available)

XYLO = load_profile("xylo")
needs_xylosim = pytest.mark.skipif(not xylosim_available(),
                                   reason="xylosim is not installed (pip install 'spikerec[xylo]'; it builds from C++ "
                                          "source and needs a compiler)")


@needs_xylosim
@pytest.mark.parametrize("sizes,recurrent,ranges", [
    ((12, 20, 6), True, None),  # one recurrent hidden layer, scales from the worst-case bound
    ((16, 10, 9, 4), False, None),  # two hidden layers: the hidden-to-hidden matrix, one step of latency each
    ((12, 20, 6), True, [LayerRange(0.05)] * 2),  # tiny calibration peaks: saturating currents and 31-spike caps
])
def test_identical_spikes_and_readout_membranes(sizes, recurrent, ranges):
    net = ir_network(sizes, decay_input=False, recurrent=recurrent, last_kind="li")
    q = quantize_network(net, XYLO, ranges).network
    x = random_frames(30, 4, sizes[0], p=0.4, seed=5).numpy() * 3
    window = np.array([30, 17, 9, 30])
    result = compare_with_xylosim(q, x, window)
    assert result["hidden_spikes"] > 50  # the network is active: agreement is not vacuous
    assert result["identical_samples"] == 4 and result["spike_mismatches"] == 0 and result["readout_mismatches"] == 0
    if ranges is not None:  # the saturating paths were exercised
        from spikerec.hardware.simulators.event import EventSimulator

        overflow = EventSimulator(q).run(x, window).overflow["total"]
        assert overflow["activation"] > 0


def test_networks_that_do_not_fit_are_config_errors_before_xylosim_runs():
    int8 = quantize_network(ir_network((12, 20, 6), last_kind="li"), load_profile("int8")).network
    with pytest.raises(ConfigError, match="shift-family"):
        xylo_spec(int8)
    single = quantize_network(ir_network((12, 6), last_kind="li"), XYLO).network
    with pytest.raises(ConfigError, match="at least one hidden layer"):
        xylo_spec(single)


@needs_xylosim
def test_a_failure_in_the_xylosim_process_is_a_typed_error():
    """XyloLayer runs in a child process; whatever ends it (here an error raised there: frames of the wrong width; a
    segfault the same way) comes back as XylosimError."""
    spec = xylo_spec(quantize_network(ir_network((12, 20, 6), last_kind="li"), XYLO).network)
    with pytest.raises(XylosimError, match="child process.*exit status 1.*frames must be"):
        _run_isolated(spec, [np.ones((5, 7), np.int64)])
