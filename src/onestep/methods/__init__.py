"""Recipes: one file each, a loss called with the networks (STYLE.md 3). The registry maps each
method's config type to the method, so a phase names its method by the config it carries."""

from onestep.methods.add import ADD, AddConfig
from onestep.methods.apt import APT, AptConfig
from onestep.methods.asd import AdversarialSelfDistillation, AsdConfig
from onestep.methods.causal_init import CausalInit, CausalInitConfig
from onestep.methods.consistency import Consistency, ConsistencyConfig
from onestep.methods.dmd2 import DMD2, Dmd2Config
from onestep.methods.flow_matching import FlowMatching, FlowMatchingConfig
from onestep.methods.ode_regression import OdeRegression, OdeRegressionConfig
from onestep.methods.pose import PoseConfig, PoseEquilibrium
from onestep.methods.self_forcing import SelfForcing, SelfForcingConfig
from onestep.methods.vsd import VSD, VSDConfig

METHODS = {
    VSDConfig: VSD,
    PoseConfig: PoseEquilibrium,
    OdeRegressionConfig: OdeRegression,
    FlowMatchingConfig: FlowMatching,
    CausalInitConfig: CausalInit,
    SelfForcingConfig: SelfForcing,
    AsdConfig: AdversarialSelfDistillation,
    Dmd2Config: DMD2,
    AddConfig: ADD,
    AptConfig: APT,
    ConsistencyConfig: Consistency,
}


def build(config):
    if type(config) not in METHODS:
        raise ValueError(
            f"no method takes a {type(config).__name__}: known configs are {', '.join(c.__name__ for c in METHODS)}"
        )
    return METHODS[type(config)](config)
