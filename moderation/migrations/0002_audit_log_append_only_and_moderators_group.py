"""The audit log refuses UPDATE and DELETE in the database itself (raw SQL
included), and the "moderators" group exists with its permissions."""

from django.db import migrations

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION moderation_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'moderation_auditlog is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
PG_TRIGGER = """
CREATE TRIGGER moderation_auditlog_append_only
BEFORE UPDATE OR DELETE ON moderation_auditlog
FOR EACH ROW EXECUTE FUNCTION moderation_auditlog_append_only();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS moderation_auditlog_append_only ON moderation_auditlog;
DROP FUNCTION IF EXISTS moderation_auditlog_append_only();
"""
SQLITE_TRIGGERS = [
    """CREATE TRIGGER moderation_auditlog_no_update BEFORE UPDATE ON moderation_auditlog
       BEGIN SELECT RAISE(ABORT, 'moderation_auditlog is append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER moderation_auditlog_no_delete BEFORE DELETE ON moderation_auditlog
       BEGIN SELECT RAISE(ABORT, 'moderation_auditlog is append-only: DELETE refused'); END;""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS moderation_auditlog_no_update;",
    "DROP TRIGGER IF EXISTS moderation_auditlog_no_delete;",
]


def add_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        schema_editor.execute(PG_TRIGGER, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_TRIGGERS:
            schema_editor.execute(sql, params=None)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DROP, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_DROP:
            schema_editor.execute(sql, params=None)


def create_moderators_group(apps, schema_editor):
    # Permissions are normally created after all migrations; make them now.
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="moderators")
    perms = Permission.objects.filter(
        content_type__app_label__in=["moderation", "listings"],
        codename__in=["moderate_case", "moderate_listing"],
    )
    group.permissions.add(*perms)


def remove_moderators_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="moderators").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0001_initial"),
        ("listings", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(add_triggers, drop_triggers),
        migrations.RunPython(create_moderators_group, remove_moderators_group),
    ]
