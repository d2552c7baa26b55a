"""document access by agency; the draft and personal signature each outgoing number came from

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'document_access',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('agency', sa.String(length=64), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sha256', 'agency'),
    )
    with op.batch_alter_table('outgoing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('personal_signature_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('clerk', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_outgoing_source_sha256', ['source_sha256'], unique=False)
        batch_op.create_index('ix_outgoing_personal_signature_sha256', ['personal_signature_sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outgoing', schema=None) as batch_op:
        batch_op.drop_index('ix_outgoing_personal_signature_sha256')
        batch_op.drop_index('ix_outgoing_source_sha256')
        batch_op.drop_column('clerk')
        batch_op.drop_column('personal_signature_sha256')
        batch_op.drop_column('source_sha256')
    op.drop_table('document_access')
