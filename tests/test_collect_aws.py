"""Collection end to end against a real local AWS API (moto's server): a collect through the
SpaceONE verbs produces exactly what the account holds, the seed's inventory queries answer on
collected data, terminated instances are reconciled away, and bad keys fail one task only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aws_moto
import boto3
import pytest
from conftest import Env, _make_env
from test_inventory_seed import USE_CASE_1, USE_CASE_3, USE_CASE_4

pytestmark = pytest.mark.xdist_group("moto")


@pytest.fixture(scope="module")
def moto() -> Iterator[tuple[str, dict[str, Any]]]:
    with aws_moto.moto_server() as endpoint:
        aws_moto.reset(endpoint)
        yield endpoint, aws_moto.seed(endpoint)
        aws_moto.reset(endpoint)


@pytest.fixture
def aws_env(tmp_path: Any) -> Iterator[Env]:
    e = _make_env("sqlite", tmp_path, None, workers=0)
    with e.client:
        yield e
    e.runtime.close()


def everything(env: Env, **filters: Any) -> list[dict[str, Any]]:
    query = {"filter": [{"k": "state", "v": ["ACTIVE", "DISCONNECTED", "DELETED"], "o": "in"}]}
    return env.ok("/inventory/cloud-service/list", {"provider": "aws", "query": query, **filters})[
        "results"
    ]


def setup(env: Env, endpoint: str, *accounts: tuple[str, dict[str, str]]) -> tuple[str, list]:
    project = env.ok(
        "/identity/project/create", {"name": "cloud", "workspace_id": env.workspace_id}
    )["project_id"]
    ids = [
        env.ok(
            "/identity/service-account/create",
            {
                "name": name,
                "provider": "aws",
                "project_id": project,
                "data": {"account_id": aws_moto.ACCOUNT_ID},
                "secret_data": secret,
            },
        )["service_account_id"]
        for name, secret in accounts
    ]
    collector = env.ok(
        "/inventory/collector/create",
        {
            "name": "aws",
            "plugin_info": {
                "plugin_id": "aws",
                "options": {"regions": list(aws_moto.REGIONS), "endpoint_url": endpoint},
            },
            "workspace_id": env.workspace_id,
        },
    )["collector_id"]
    return collector, ids


def run(env: Env, collector_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    job = env.ok("/inventory/collector/collect", {"collector_id": collector_id})
    env.runtime.workers.drain()
    job = env.ok("/inventory/job/get", {"job_id": job["job_id"]})
    tasks = env.ok("/inventory/job-task/list", {"job_id": job["job_id"]})["results"]
    return job, tasks


def expected_keys(summary: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (kind, region, rid)
        for kind, by_region in summary["resources"].items()
        for region, ids in by_region.items()
        for rid in ids
    }


def collected_keys(rows: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (
            f"{r['cloud_service_group']}.{r['cloud_service_type']}",
            r["region_code"],
            r["reference"]["resource_id"],
        )
        for r in rows
        if r["state"] == "ACTIVE"
    }


def test_collecting_the_account_then_reconciling_terminated_instances(aws_env, moto):
    env = aws_env
    endpoint, summary = moto
    collector_id, _ = setup(env, endpoint, ("prod", aws_moto.CREDENTIALS))

    job, (task,) = run(env, collector_id)
    assert job["status"] == "SUCCESS", task["errors"]
    expected = expected_keys(summary)
    assert len(expected) >= 300
    rows = everything(env)
    assert collected_keys(rows) == expected
    assert task["created_count"] == len(expected) and task["failure_count"] == 0

    by_id = {r["reference"]["resource_id"]: r for r in rows}
    for rid, row in by_id.items():
        assert row["account"] == aws_moto.ACCOUNT_ID
        assert row["name"] == summary["names"][rid]
        assert row["tags"].get("aws", {}) == summary["tags"][rid]
        assert row["collection_info"]["collector_id"] == collector_id
        assert row["reference"]["external_link"].startswith("https://")
    instance_id = summary["created"]["EC2.Instance"]["ap-northeast-2"][0]
    instance = by_id[instance_id]
    assert instance["data"]["compute"]["instance_id"] == instance_id
    assert instance["data"]["compute"]["instance_state"] in ("RUNNING", "STOPPED")
    assert instance_id in instance["reference"]["external_link"]
    assert "ap-northeast-2" in instance["reference"]["external_link"]
    assert set(instance["data"]) >= {"os", "aws", "hardware", "compute"}
    # the plugin's types and regions are registered, with their searchable fields
    types = env.ok("/inventory/cloud-service-type/list", {"provider": "aws"})["results"]
    assert len(types) == 11
    ec2 = next(t for t in types if (t["group"], t["name"]) == ("EC2", "Instance"))
    assert {"key": "data.compute.instance_state", "name": "Instance State"} in ec2["metadata"][
        "search"
    ] or any(s["key"] == "data.compute.instance_state" for s in ec2["metadata"]["search"])
    regions = {r["region_code"] for r in env.ok("/inventory/region/list", {})["results"]}
    assert regions >= {"us-east-1", "ap-northeast-2", "global"}

    # the seed's inventory queries, verbatim, on collected data
    def raw(body: str) -> dict[str, Any]:
        r = env.client.post(
            "/inventory/cloud-service/list",
            content=body,
            headers={"Authorization": f"Bearer {env.admin_token}"},
        )
        assert r.status_code == 200, r.text
        return r.json()

    instances = [rid for ids in summary["resources"]["EC2.Instance"].values() for rid in ids]
    assert raw(USE_CASE_1)["total_count"] == len(instances)
    wonny = [
        rid
        for rid, tags in summary["tags"].items()
        if tags.get("Created_by") == "wonny"
        and by_id.get(rid, {}).get("cloud_service_group") == "EC2"
    ]
    assert raw(USE_CASE_3)["total_count"] == len(wonny) > 0
    in_use = raw(USE_CASE_4)
    used = {g for g, users in summary["instances_by_security_group"].items() if users}
    assert in_use["total_count"] == len(used) > 0
    for record in in_use["results"]:
        assert set(record) == {"name", "state", "data"} and record["data"]["instances"]
    got = env.ok("/inventory/cloud-service/get", {"cloud_service_id": instance["cloud_service_id"]})
    assert got["reference"]["resource_id"] == instance_id

    # terminate 10 instances; three more collections disconnect, then delete them
    protected = set(summary["termination_protected"])
    doomed = [i for i in summary["created"]["EC2.Instance"]["us-east-1"] if i not in protected][:10]
    aws_moto.terminate(endpoint, "us-east-1", doomed)
    ec2 = boto3.client(
        "ec2", region_name="us-east-1", endpoint_url=endpoint, **aws_moto.CREDENTIALS
    )
    volumes = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    # their root volumes went with them (DeleteOnTermination)
    gone = set(doomed) | (set(summary["resources"]["EC2.Volume"]["us-east-1"]) - volumes)
    assert len(gone) > 10
    states = []
    for _ in range(3):
        job, (task,) = run(env, collector_id)
        assert job["status"] == "SUCCESS"
        now = {r["reference"]["resource_id"]: r for r in everything(env)}
        states.append({now[i]["state"] for i in gone})
        others = {r["state"] for rid, r in now.items() if rid not in gone}
        assert others == {"ACTIVE"}
    assert states == [{"DISCONNECTED"}, {"DISCONNECTED"}, {"DELETED"}]
    assert task["deleted_count"] == len(gone)

    # one comes back with the same id: same cloud_service_id, ACTIVE again
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[aws_moto.ACCOUNT_ID]["us-east-1"]
    revived = backend.get_instance(doomed[0])
    revived._state.name = "running"
    revived._state.code = 16
    run(env, collector_id)
    again = {r["reference"]["resource_id"]: r for r in everything(env)}
    assert again[doomed[0]]["state"] == "ACTIVE"
    assert again[doomed[0]]["cloud_service_id"] == by_id[doomed[0]]["cloud_service_id"]
    assert {again[i]["state"] for i in doomed[1:]} == {"DELETED"}
    revived._state.name = "terminated"
    revived._state.code = 48


def test_wrong_keys_fail_their_task_only_and_disconnect_nothing(aws_env, moto):
    env = aws_env
    endpoint, _summary = moto
    iam = boto3.client(
        "iam", region_name="us-east-1", endpoint_url=endpoint, **aws_moto.CREDENTIALS
    )
    user = "collector-e2e"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    good = {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }
    bad = {"aws_access_key_id": "AKIAWRONGWRONGWRONG1", "aws_secret_access_key": "not-the-secret"}
    try:
        collector_id, (good_id, bad_id) = setup(env, endpoint, ("good", good), ("bad", bad))
        with aws_moto.iam_auth(endpoint):
            first, _ = run(env, collector_id)
            job, tasks = run(env, collector_id)
    finally:
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        iam.delete_user_policy(UserName=user, PolicyName="all")
        iam.delete_user(UserName=user)
    by_account = {t["service_account_id"]: t for t in tasks}
    assert job["status"] == "FAILURE"
    assert (job["success_tasks"], job["failure_tasks"], job["remained_tasks"]) == (1, 1, 0)
    failed = by_account[bad_id]
    assert failed["status"] == "FAILURE"
    message = failed["errors"][-1]["message"]
    assert "AWS rejected the credentials of this service account" in message
    assert "not-the-secret" not in json.dumps(tasks)
    assert by_account[good_id]["status"] == "SUCCESS"
    assert by_account[good_id]["updated_count"] > 300
    assert {r["state"] for r in everything(env)} == {"ACTIVE"}
    assert first["status"] == "FAILURE"
