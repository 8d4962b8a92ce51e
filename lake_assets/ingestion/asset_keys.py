"""The asset keys of a source's zones (raw/<source>, registry/<source>, curated/<source>), of a
contract in force (contracts/<dataset>), and the catalog dataset each table asset publishes."""

from dagster import AssetKey


def raw_key_of(source_id: str) -> AssetKey:
    return AssetKey(["raw", source_id])


def registry_key_of(source_id: str) -> AssetKey:
    return AssetKey(["registry", source_id])


def curated_key_of(source_id: str) -> AssetKey:
    return AssetKey(["curated", source_id])


# The asset standing for a dataset's contract in force (contracts/trial_watch.py), where the
# checks that try it on the whole published table hang.
CONTRACTS_ZONE = "contracts"


def contract_key_of(dataset: str) -> AssetKey:
    return AssetKey([CONTRACTS_ZONE, dataset])


# Tables and the assets that publish them. A zone's table asset <zone>/<name> publishes the
# catalog dataset <zone>_<name> (silver, gold, cost), <name>_history (history), or <name>
# (curated sources, marts): what cost drivers, the ledger and its observations name.
PREFIXED_ZONES = ("silver", "gold", "cost")
HISTORY_SUFFIX = "_history"


def dataset_of(key: AssetKey) -> str | None:
    """The catalog dataset asset `key` publishes; None for an asset that publishes no table
    (raw, registry, classification, maintenance, access)."""
    if len(key.path) != 2:
        return None
    zone, name = key.path
    if zone in PREFIXED_ZONES:
        return f"{zone}_{name}"
    if zone == "history":
        return name + HISTORY_SUFFIX
    return name if zone in ("curated", "marts") else None


def contract_of(key: AssetKey) -> str | None:
    """The dataset whose contract asset `key` stands for (None: `key` is no contract's)."""
    return key.path[1] if len(key.path) == 2 and key.path[0] == CONTRACTS_ZONE else None


def charged_dataset(key: AssetKey) -> str | None:
    """The dataset a step on asset `key` works for, which its cost is charged to: the one it
    publishes, or the one whose contract it stands for (a trial run from a check's step)."""
    return contract_of(key) or dataset_of(key)


def asset_of(dataset: str, sources) -> AssetKey:
    """The asset that publishes catalog `dataset` (the inverse of dataset_of); `sources` are the
    lake's source ids, whose tables are curated/<source> (any other bare name is a mart)."""
    for zone in PREFIXED_ZONES:
        if dataset.startswith(f"{zone}_"):
            return AssetKey([zone, dataset.removeprefix(f"{zone}_")])
    if dataset.endswith(HISTORY_SUFFIX):
        return AssetKey(["history", dataset.removesuffix(HISTORY_SUFFIX)])
    return curated_key_of(dataset) if dataset in sources else AssetKey(["marts", dataset])
