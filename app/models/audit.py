"""The append-only audit trail and the head of its hash chain."""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import NO_ID_REUSE

GENESIS_HASH = "0" * 64


class AuditLog(Model):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_record", "table_name", "record_id"),
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor", "actor_id"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True, nullable=False)  # position in the chain
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(64), nullable=False)
    table_name: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    changes: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON {field: [old, new]}
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditChainHead(Model):
    """One row (id=1): the last seq and hash. Writers lock it, so the chain cannot fork.

    `hmac_from_seq` is the first row hashed with the audit key (HMAC-SHA256); the rows before it were
    hashed with plain SHA-256 before migration 0006. `hmac_from_tag` is the key's HMAC of that seq, so
    moving the switch-over (to pass off re-hashed rows as unkeyed ones) needs the key too."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, default=GENESIS_HASH)
    hmac_from_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=1)
    hmac_from_tag: Mapped[str] = mapped_column(String(64), nullable=False, default="")
