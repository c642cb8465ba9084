"""A small trade history whose figures were worked out by hand (see test_analytics.py).

Account 1001, two strategies (magic 1 and 2), EURUSD and GBPUSD, two UTC days. Deal type 0
buy, 1 sell, 2 balance; entry 0 in, 1 out.
"""

from __future__ import annotations

import psycopg2

ACCOUNT = 1001
D1, D2 = "2026-03-02", "2026-03-03"

# (ticket, position, symbol, type, entry, magic, volume, time, profit, commission, swap)
DEALS = [
    (1, 0, "", 2, 0, 0, 0.0, f"{D1} 07:00", 10000.0, 0.0, 0.0),  # deposit: not a trade
    (2, 10, "EURUSD", 0, 0, 1, 1.0, f"{D1} 09:00", 0.0, -3.0, 0.0),
    (3, 10, "EURUSD", 1, 1, 1, 1.0, f"{D1} 10:00", 50.0, -3.0, 0.0),  # net 44
    (4, 11, "EURUSD", 1, 0, 1, 0.5, f"{D1} 11:00", 0.0, -1.5, 0.0),
    (5, 11, "EURUSD", 0, 1, 1, 0.5, f"{D1} 12:00", -20.0, -1.5, -0.5),  # net -23.5
    (6, 12, "GBPUSD", 0, 0, 2, 1.0, f"{D1} 09:30", 0.0, -3.0, 0.0),
    (7, 12, "GBPUSD", 1, 1, 2, 1.0, f"{D1} 13:00", 30.0, -3.0, 0.0),  # net 24
    (8, 13, "GBPUSD", 0, 0, 1, 0.2, f"{D1} 14:00", 0.0, -0.6, 0.0),
    (9, 13, "GBPUSD", 1, 1, 1, 0.1, f"{D1} 15:00", 5.0, -0.3, 0.0),  # partial close
    (10, 13, "GBPUSD", 1, 1, 1, 0.1, f"{D1} 16:00", -15.0, -0.3, 0.0),  # net -11.2
    (11, 14, "EURUSD", 0, 0, 2, 0.5, f"{D1} 16:30", 0.0, -1.0, 0.0),  # closes on D2
    (12, 15, "EURUSD", 0, 0, 1, 1.0, f"{D1} 22:00", 0.0, -3.0, 0.0),
    (13, 15, "EURUSD", 1, 1, 1, 1.0, f"{D2} 08:00", 100.0, -3.0, -2.0),  # net 92
    (14, 16, "GBPUSD", 1, 0, 2, 1.0, f"{D2} 09:00", 0.0, -2.0, 0.0),
    (15, 16, "GBPUSD", 0, 1, 2, 1.0, f"{D2} 10:00", -40.0, -2.0, 0.0),  # net -44
    (16, 14, "EURUSD", 1, 1, 2, 0.5, f"{D2} 11:00", 2.0, -1.0, 0.0),  # net 0: neither
    (17, 17, "EURUSD", 0, 0, 1, 1.0, f"{D2} 12:00", 0.0, -3.0, 0.0),  # still open
]

SNAPSHOTS = [  # (time, balance, equity)
    (f"{D1} 08:00", 10000.0, 10000.0),
    (f"{D1} 10:00", 10041.0, 10040.0),
    (f"{D1} 12:00", 10017.5, 10010.0),
    (f"{D1} 14:00", 10041.5, 10060.0),
    (f"{D1} 16:00", 10029.3, 10020.0),
    (f"{D1} 23:00", 10029.3, 10030.0),
    (f"{D2} 08:00", 10121.3, 10120.0),
    (f"{D2} 12:00", 10078.3, 10070.0),
]


def load_hand_deals(pg: dict) -> None:
    with psycopg2.connect(**pg) as conn, conn.cursor() as cur:
        for (
            ticket,
            position,
            symbol,
            type_,
            entry,
            magic,
            volume,
            time,
            profit,
            commission,
            swap,
        ) in DEALS:
            cur.execute(
                "INSERT INTO deals (account, ticket, order_ticket, position_id, symbol, type, entry,"
                " magic, volume, price, commission, swap, profit, fee, time)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 1.1, %s, %s, %s, 0, (%s || '+00')::timestamptz)",
                (
                    ACCOUNT,
                    ticket,
                    ticket,
                    position,
                    symbol,
                    type_,
                    entry,
                    magic,
                    volume,
                    commission,
                    swap,
                    profit,
                    time,
                ),
            )
        for time, balance, equity in SNAPSHOTS:
            cur.execute(
                "INSERT INTO account_snapshots (account, time, balance, equity, currency)"
                " VALUES (%s, (%s || '+00')::timestamptz, %s, %s, 'USD')",
                (ACCOUNT, time, balance, equity),
            )
        cur.execute(
            "INSERT INTO daily_performance (account, day, starting_balance, ending_balance)"
            " VALUES (%s, %s, 10000, 10029.3)",
            (ACCOUNT, D1),
        )
