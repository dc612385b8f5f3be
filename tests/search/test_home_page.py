"""The home page (search form, real examples) and the gene lookup page."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from search.selectors.examples import example_queries

pytestmark = pytest.mark.django_db


def test_the_home_page_offers_the_search_form_and_the_real_examples() -> None:
    html = Client().get("/").content.decode()
    assert 'id="search-form"' in html
    assert "Genes in the registry: 65191 (978 L1000 landmarks)" in html
    embedded = re.search(r'<script id="examples" type="application/json">(.*?)</script>', html)
    examples = json.loads(embedded.group(1))
    assert [e["key"] for e in examples] == ["dexamethasone", "vemurafenib", "trametinib"]
    dex = examples[0]
    assert (len(dex["up"]), len(dex["down"])) == (150, 150)
    assert "FKBP5" in dex["up"]  # a known glucocorticoid target of the real airway data


def test_without_an_index_the_search_button_is_disabled_and_says_why() -> None:
    html = Client().get("/").content.decode()
    assert 'id="search-button" disabled' in html
    assert "The search index is absent" in html


def test_the_examples_are_the_real_gene_sets() -> None:
    vemurafenib = next(e for e in example_queries() if e.key == "vemurafenib")
    assert len(vemurafenib.up) == 50
    assert not set(vemurafenib.up) & set(vemurafenib.down)


def test_the_gene_lookup_page_shows_the_registry_and_the_lookup_form() -> None:
    html = Client().get("/genes/").content.decode()
    assert "The registry holds 65191 human genes (978 L1000 landmarks)" in html
    assert 'id="resolve-form"' in html
    assert "search/gene-lookup.js" in html
