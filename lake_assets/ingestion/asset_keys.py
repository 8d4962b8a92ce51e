"""The asset keys of a source's zones: raw/<source>, registry/<source> and curated/<source>."""

from dagster import AssetKey


def raw_key_of(source_id: str) -> AssetKey:
    return AssetKey(["raw", source_id])


def registry_key_of(source_id: str) -> AssetKey:
    return AssetKey(["registry", source_id])


def curated_key_of(source_id: str) -> AssetKey:
    return AssetKey(["curated", source_id])
