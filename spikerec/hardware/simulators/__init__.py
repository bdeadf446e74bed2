"""What runs a Network IR on frames: the event-driven simulator (:mod:`.event`), the dense torch reference
(:mod:`.reference`), memristive crossbars (:mod:`.crossbar`), and the agreement of a simulator with an
independent reference over a data split (:mod:`.agreement`).

In: a :class:`~spikerec.hardware.ir.network.Network` and batches of sample windows (:mod:`spikerec.window`).
Out: spikes, readout membranes, predictions and per-sample counts.
"""
