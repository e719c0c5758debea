"""The deterministic simulator behind ``skilltroc simulate`` (TigerBeetle's VOPR is the model).

A seeded workload (:mod:`.workload`) drives the service on any store while a naive
reference model (:mod:`.model`) says what the rules expect; the runner (:mod:`.runner`)
checks them against each other after every step, optionally injecting store failures
and duplicate deliveries (:mod:`.faults`). A failure is shrunk to a short step list
and written as a replay file (:mod:`.shrink`).
"""

from __future__ import annotations

from .faults import FaultyStore, StoreFault
from .model import Model
from .runner import SIM_POLICY, SimulationFailure, Simulator, Summary
from .workload import KINDS, Step, generate

__all__ = [
    "KINDS",
    "SIM_POLICY",
    "FaultyStore",
    "Model",
    "SimulationFailure",
    "Simulator",
    "Step",
    "StoreFault",
    "Summary",
    "generate",
]
