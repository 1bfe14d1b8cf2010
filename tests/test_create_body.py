"""`CloudServiceCreate.body()`: what the API, the importer and the collectors hand to the upsert.
It must be exactly what pydantic's own dump would give, whatever fields a record sets."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from skyatlas.inventory.generator import generate_cloud_services
from skyatlas.inventory.verbs.cloud_service import CloudServiceCreate

names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=8
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | names,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)
optional_fields = {
    "name": names,
    "account": names,
    "instance_type": names,
    "instance_size": st.floats(allow_nan=False, allow_infinity=False),
    "ip_addresses": st.lists(st.sampled_from(["10.0.0.1", "192.168.1.7", "::1"]), max_size=2),
    "region_code": names,
    "project_id": names,
    "workspace_id": names,
    "metadata": st.dictionaries(names, json_values, max_size=2),
    "reference": st.fixed_dictionaries(
        {}, optional={"resource_id": st.none() | names, "external_link": st.none() | names}
    ),
    "tags": st.dictionaries(names, names, max_size=3),
}
_NOT_NULLABLE = ("ip_addresses", "metadata", "tags")  # absent or a value, never null
records = st.fixed_dictionaries(
    {
        "provider": names,
        "cloud_service_group": names,
        "cloud_service_type": names,
        "data": st.dictionaries(names, json_values, max_size=4),
    },
    optional={k: (v if k in _NOT_NULLABLE else st.none() | v) for k, v in optional_fields.items()},
)


def _dumped(model: CloudServiceCreate) -> dict[str, Any]:
    return model.model_dump(exclude={"workspace_id"}, exclude_none=True)


@settings(max_examples=300, deadline=None)
@given(records)
def test_body_is_the_dump_of_the_set_fields(record: dict[str, Any]):
    model = CloudServiceCreate.model_validate(record)
    body = model.body()
    assert body == _dumped(model)
    assert "workspace_id" not in body


def test_body_of_generated_records():
    for record in generate_cloud_services(300, seed=5):
        model = CloudServiceCreate.model_validate(record)
        assert model.body() == _dumped(model)
