"""document versions: a stored document extended (B-LT, B-LTA) or renewed (a new document timestamp)

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'document_version',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('successor_sha256', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('level', sa.String(length=8), nullable=False),
        sa.Column('protected_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('sha256'),
    )
    op.create_index('ix_document_version_successor_sha256', 'document_version', ['successor_sha256'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_document_version_successor_sha256', table_name='document_version')
    op.drop_table('document_version')
