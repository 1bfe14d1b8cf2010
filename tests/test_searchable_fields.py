"""Searchable fields: declaring a data path builds its index once; filters on it use it."""

from __future__ import annotations

from sqlalchemy import text

STATE = "data.compute.instance_state"


def _declare(env, name: str) -> dict:
    return env.ok(
        "/inventory/cloud-service-type/create",
        {
            "name": name,
            "group": "EC2",
            "provider": "aws",
            "workspace_id": env.workspace_id,
            "metadata": {"search": [{"key": STATE, "name": "State"}]},
        },
    )


def test_a_path_declared_twice_is_indexed_once_and_filters_use_the_index(env):
    _declare(env, "Instance")
    _declare(env, "Spot")  # the same path again: no error, no second index
    for i, state in enumerate(["RUNNING", "STOPPED", "RUNNING"]):
        env.ok(
            "/inventory/cloud-service/create",
            {
                "provider": "aws",
                "cloud_service_group": "EC2",
                "cloud_service_type": "Instance",
                "workspace_id": env.workspace_id,
                "data": {"compute": {"instance_state": state}},
                "reference": {"resource_id": f"i-{i}"},
            },
        )
    query = {"query": {"filter": [{"k": STATE, "v": "RUNNING", "o": "eq"}]}}
    assert env.ok("/inventory/cloud-service/list", query)["total_count"] == 2
    query = {"query": {"filter": [{"k": STATE, "v": ["STOPPED"], "o": "in"}]}}
    assert env.ok("/inventory/cloud-service/list", query)["total_count"] == 1

    with env.runtime.store.read() as conn:
        if env.backend == "sqlite":
            plan = conn.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT count(*) FROM cloud_services WHERE "
                    """json_extract(data, '$."compute"."instance_state"') = 'RUNNING'"""
                )
            ).all()
        else:
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = conn.execute(
                text(
                    "EXPLAIN SELECT count(*) FROM cloud_services WHERE "
                    """(data #>> '{"compute","instance_state"}') = 'RUNNING'"""
                )
            ).all()
    assert "ix_cs_search_" in str(plan)


def test_a_bad_search_path_is_400_and_declares_nothing(env):
    response = env.call(
        "/inventory/cloud-service-type/create",
        {
            "name": "Bad",
            "group": "EC2",
            "provider": "aws",
            "workspace_id": env.workspace_id,
            "metadata": {"search": [{"key": "data.x'); DROP TABLE cloud_services; --"}]},
        },
    )
    assert response.status_code == 400
    assert "searchable path" in response.json()["detail"]["message"]
    assert env.ok("/inventory/cloud-service-type/list")["total_count"] == 0
