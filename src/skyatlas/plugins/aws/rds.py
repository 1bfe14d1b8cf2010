"""RDS database instances (clusters' member instances included: each is a server someone
pays for and patches)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from skyatlas.plugins.aws import links
from skyatlas.plugins.aws.records import cloud_service, iso, name_of, tag_dict
from skyatlas.plugins.aws.scope import RegionScope, paginate
from skyatlas.plugins.aws.types import RDS_INSTANCE


def collect_db_instances(scope: RegionScope) -> Iterator[dict[str, Any]]:
    rds = scope.client("rds")
    region, account = scope.region, scope.account
    for db in paginate(rds, "describe_db_instances", "DBInstances"):
        ident = db["DBInstanceIdentifier"]
        arn = db.get("DBInstanceArn") or (
            f"arn:{scope.session.partition}:rds:{region}:{account}:db:{ident}"
        )
        tag_list = db.get("TagList")
        if tag_list is None:  # older API answers carry no tags
            tag_list = rds.list_tags_for_resource(ResourceName=arn).get("TagList", [])
        tags = tag_dict(tag_list)
        endpoint = db.get("Endpoint") or {}
        subnet_group = db.get("DBSubnetGroup") or {}
        data = {
            "db_instance_identifier": ident,
            "db_instance_arn": arn,
            "db_instance_class": db.get("DBInstanceClass", ""),
            "engine": db.get("Engine", ""),
            "engine_version": db.get("EngineVersion", ""),
            "db_instance_status": db.get("DBInstanceStatus", ""),
            "db_cluster_identifier": db.get("DBClusterIdentifier", ""),
            "dbi_resource_id": db.get("DbiResourceId", ""),
            "master_username": db.get("MasterUsername", ""),
            "db_name": db.get("DBName", ""),
            "endpoint": {
                "address": endpoint.get("Address", ""),
                "port": endpoint.get("Port"),
                "hosted_zone_id": endpoint.get("HostedZoneId", ""),
            },
            "allocated_storage": db.get("AllocatedStorage"),
            "storage_type": db.get("StorageType", ""),
            "iops": db.get("Iops"),
            "storage_encrypted": bool(db.get("StorageEncrypted")),
            "kms_key_id": db.get("KmsKeyId", ""),
            "multi_az": bool(db.get("MultiAZ")),
            "availability_zone": db.get("AvailabilityZone", ""),
            "secondary_availability_zone": db.get("SecondaryAvailabilityZone", ""),
            "publicly_accessible": bool(db.get("PubliclyAccessible")),
            "backup_retention_period": db.get("BackupRetentionPeriod"),
            "preferred_backup_window": db.get("PreferredBackupWindow", ""),
            "preferred_maintenance_window": db.get("PreferredMaintenanceWindow", ""),
            "db_subnet_group": {
                "name": subnet_group.get("DBSubnetGroupName", ""),
                "vpc_id": subnet_group.get("VpcId", ""),
            },
            "vpc_security_groups": [
                {
                    "vpc_security_group_id": g.get("VpcSecurityGroupId", ""),
                    "status": g.get("Status", ""),
                }
                for g in db.get("VpcSecurityGroups") or []
            ],
            "auto_minor_version_upgrade": bool(db.get("AutoMinorVersionUpgrade")),
            "deletion_protection": bool(db.get("DeletionProtection")),
            "performance_insights_enabled": bool(db.get("PerformanceInsightsEnabled")),
            "instance_create_time": iso(db.get("InstanceCreateTime")),
            "license_model": db.get("LicenseModel", ""),
            "ca_certificate_identifier": db.get("CACertificateIdentifier", ""),
            "account": account,
        }
        yield cloud_service(
            RDS_INSTANCE,
            name=name_of(tags, ident),
            account=account,
            region=region,
            resource_id=arn,
            external_link=links.rds_instance(region, ident),
            data=data,
            tags=tags,
            instance_type=db.get("DBInstanceClass"),
        )
