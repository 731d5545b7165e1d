"""Resumable bulk loads by job name: how far a named load of one input got (shared by the
Organisation sync feed's import and the indexes' import).

Each feature keeps its own table of the same shape (municipality_code, name, input_hash, total,
position, accepted, unchanged, rejected, started_at, updated_at, finished_at; migrations 0011 and
0012).  `start` returns where a rerun of the same input goes on (0 for a new or different input);
`save` records a committed batch in the batch's own transaction, so position and data agree.
"""

from __future__ import annotations

import psycopg
from psycopg import sql


class BulkJobs:
    def __init__(self, table: str):
        self.table = sql.Identifier(table)

    def start(self, conn: psycopg.Connection, job: str, municipality_code: int, digest: str, total: int) -> int:
        row = conn.execute(sql.SQL("SELECT input_hash, position FROM {} WHERE municipality_code = %(m)s "
                                   "AND name = %(n)s FOR UPDATE").format(self.table),
                           {"m": municipality_code, "n": job}).fetchone()
        if row is not None and row["input_hash"] == digest:
            return min(row["position"], total)
        conn.execute(sql.SQL("""INSERT INTO {} (municipality_code, name, input_hash, total)
                                VALUES (%(m)s, %(n)s, %(h)s, %(t)s)
                                ON CONFLICT (municipality_code, name) DO UPDATE SET input_hash = %(h)s,
                                    total = %(t)s, position = 0, accepted = 0, unchanged = 0, rejected = 0,
                                    started_at = now(), updated_at = now(), finished_at = NULL""").format(self.table),
                     {"m": municipality_code, "n": job, "h": digest, "t": total})
        return 0

    def save(self, conn: psycopg.Connection, job: str, municipality_code: int, position: int, *, accepted: int,
             unchanged: int, rejected: int, finished: bool) -> None:
        conn.execute(sql.SQL("""UPDATE {} SET position = %(p)s, accepted = accepted + %(a)s,
                                       unchanged = unchanged + %(u)s, rejected = rejected + %(r)s,
                                       updated_at = now(), finished_at = CASE WHEN %(f)s THEN now() END
                                 WHERE municipality_code = %(m)s AND name = %(n)s""").format(self.table),
                     {"p": position, "a": accepted, "u": unchanged, "r": rejected, "f": finished,
                      "m": municipality_code, "n": job})
