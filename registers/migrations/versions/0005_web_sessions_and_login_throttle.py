"""web sessions kept on the server (the browser holds a random id, the table its SHA-256) and failed
logins counted per address and per account

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_session',
        sa.Column('id_sha256', sa.String(length=64), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id_sha256'),
    )
    op.create_index('ix_web_session_username', 'web_session', ['username'], unique=False)
    op.create_table(
        'login_failure',
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'key'),
    )


def downgrade() -> None:
    op.drop_table('login_failure')
    op.drop_index('ix_web_session_username', table_name='web_session')
    op.drop_table('web_session')
