"""Run by the classification benchmark with a Python that has `presidio-analyzer` (not this
project's environment): reads {column: [values]} as JSON on stdin, prints {column: {entity:
values where Presidio found it}} as JSON. spaCy gets a blank English pipeline (a tokenizer):
Presidio's default model (en_core_web_lg) would be downloaded, which the benchmark must not do,
so its pattern recognisers run and its NER-based ones (PERSON, LOCATION) find nothing."""

from __future__ import annotations

import json
import sys

import spacy
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import SpacyNlpEngine


def main() -> None:
    columns = json.load(sys.stdin)
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank:en"}])
    engine.nlp = {"en": spacy.blank("en")}  # loaded already: load() would download the model
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    found = {}
    for name, values in columns.items():
        counts: dict[str, int] = {}
        for value in values:
            for entity in {r.entity_type for r in analyzer.analyze(str(value), language="en")}:
                counts[entity] = counts.get(entity, 0) + 1
        found[name] = counts
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    main()
