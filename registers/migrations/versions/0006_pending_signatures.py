"""pending two-step signatures in the database every node shares (they were files of one node)

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pending_signature',
        sa.Column('handle', sa.String(length=64), nullable=False),
        sa.Column('state', sa.Text(), nullable=False),
        sa.Column('pdf', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('handle'),
    )
    op.create_index('ix_pending_signature_expires_at', 'pending_signature', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_pending_signature_expires_at', table_name='pending_signature')
    op.drop_table('pending_signature')
