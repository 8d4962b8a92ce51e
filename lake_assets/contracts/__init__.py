"""Data contracts: YAML per dataset (model), Spark row rules (rules), pure verdicts (verdicts).

The Spark half is not imported here, so loading contracts and judging partitions needs no JVM.
"""

from lake_assets.contracts.model import CONTRACTS_DIR, Contract, Rule, load_contract, load_contracts

__all__ = ["CONTRACTS_DIR", "Contract", "Rule", "load_contract", "load_contracts"]
