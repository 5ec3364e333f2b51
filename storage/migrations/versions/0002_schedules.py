"""schedules

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("process_id", sa.String(length=200), nullable=False),
        sa.Column("org_unit_id", sa.String(length=64), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("done_field", sa.String(length=64), nullable=False),
        sa.Column("next_start", sa.DateTime(), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["org_unit_id"], ["org_unit.id"], name=op.f("fk_schedule_org_unit_id_org_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule")),
        sa.UniqueConstraint("key", name=op.f("uq_schedule_key")),
    )
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_next_start"), ["next_start"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedule_process_id"), ["process_id"], unique=False)

    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("period", sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f("ix_process_instance_schedule_id"), ["schedule_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_process_instance_schedule_id_schedule"), "schedule", ["schedule_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_process_instance_schedule_id_schedule"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_process_instance_schedule_id"))
        batch_op.drop_column("period")
        batch_op.drop_column("schedule_id")

    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_process_id"))
        batch_op.drop_index(batch_op.f("ix_schedule_next_start"))

    op.drop_table("schedule")
