"""The reports' CSV: a key starting like a formula is written as text, numbers as numbers."""

from __future__ import annotations

import csv
import io

from donation.service_layer.queries.reports import USE_COLUMNS, rows_to_csv


def test_a_formula_like_key_is_quoted_and_the_amounts_stay_numbers() -> None:
    report = {
        "rows": [
            {
                "key": "=1+2",
                "disbursements": 1,
                "used_fen": 500,
                "from_designated_fen": 500,
                "from_unrestricted_fen": 0,
            },
            {
                "key": "-1+2",
                "disbursements": 2,
                "used_fen": -100,
                "from_designated_fen": 0,
                "from_unrestricted_fen": -100,
            },
        ],
        "total": {
            "key": "合计 total",
            "disbursements": 3,
            "used_fen": 400,
            "from_designated_fen": 500,
            "from_unrestricted_fen": -100,
        },
    }
    table = list(csv.reader(io.StringIO(rows_to_csv(report, USE_COLUMNS))))
    assert table == [
        list(USE_COLUMNS),
        ["'=1+2", "1", "500", "500", "0"],
        ["'-1+2", "2", "-100", "0", "-100"],
        ["合计 total", "3", "400", "500", "-100"],
    ]
