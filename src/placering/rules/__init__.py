"""The declarative rules engine: rule files in rules/, dated parameters, facts from the register,
the reference evaluator (plain Python, the test oracle), the durable-rules adapter,
register-status rules and rule tests.

    from placering.rules import load_ruleset, ReferenceEvaluator
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "RuleSet": "ruleset",
    "load_ruleset": "ruleset",
    "RegisterSnapshot": "facts",
    "request_fact": "facts",
    "ReferenceEvaluator": "reference",
    "RequestEvaluation": "reference",
    "CandidateOutcome": "reference",
    "Reason": "reference",
    "DurableEvaluator": "durable_engine",
}


def __getattr__(name: str):
    # Imported lazily so `placering.rules.model` can be used without loading the rest.
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(name)
