"""Alarm senders: one row per SNS topic or account that delivered alarms, counting what
was taken and what refused (`check-config` lists the refused ones)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.store.db import Database, now, retried
from bot.store.tables import AlarmSource


class SourceStore:
    """Counts per sender of alarm deliveries."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @retried
    def count(
        self,
        delivery: str,
        account: str,
        topic_arn: str,
        alarm_name: str,
        refused_because: str | None = None,
    ) -> None:
        """One more delivery from this sender: taken, or refused with the reason."""
        key = f"{delivery}|{topic_arn or account or '?'}"[:512]
        values = {
            "last_alarm": alarm_name[:255],
            "last_seen": now(),
            **({"last_reason": refused_because[:1000]} if refused_because else {}),
        }
        counter = AlarmSource.refused if refused_because else AlarmSource.taken
        column = "refused" if refused_because else "taken"
        for _ in range(2):  # an insert another process raced us to becomes an update
            with self.db.session() as session:
                changed = session.execute(
                    update(AlarmSource)
                    .where(AlarmSource.key == key)
                    .values(**values, **{column: counter + 1})
                ).rowcount
            if changed:
                return
            try:
                with self.db.session() as session:
                    session.add(
                        AlarmSource(
                            key=key,
                            delivery=delivery,
                            account=account[:12],
                            topic_arn=topic_arn[:512],
                            taken=0 if refused_because else 1,
                            refused=1 if refused_because else 0,
                            **values,
                        )
                    )
                return
            except IntegrityError:
                continue

    def refused(self) -> list[AlarmSource]:
        """The senders with a refused delivery, the most recent first."""
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(AlarmSource)
                    .where(AlarmSource.refused > 0)
                    .order_by(AlarmSource.last_seen.desc())
                )
            )
