"""The benchmark store file read into the records the engine compares."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.matching.bench import BenchFileError, read_store
from gateway.matching.records import Contact, PartialDate, PersonRecord


def test_store_rows_with_missing_columns_short_rows_and_padding(tmp_path: Path) -> None:
    path = tmp_path / "store.csv"
    path.write_text(
        "store_id,surname,forename,dob,former_surname,contact2_forename,contact2_surname,extra\n"
        " LP1 , Hartley ,Oliver,2014-05-03,Smith,Jo,Hartley,x,y\n"
        "LP2,Okonjo,Emeka,2012\n"
        "\n"
        "LP3,,,,,,\n",
        encoding="utf-8",
    )
    assert read_store(path) == [
        PersonRecord(
            record_id="LP1",
            surname="Hartley",
            forename="Oliver",
            former_surnames=("Smith",),
            dob=PartialDate(2014, 5, 3),
            contacts=(Contact("Jo", "Hartley", ""),),
        ),
        PersonRecord(record_id="LP2", surname="Okonjo", forename="Emeka", dob=PartialDate(2012)),
        PersonRecord(record_id="LP3"),
    ]


def test_a_bad_date_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "store.csv"
    path.write_text("store_id,surname,forename,dob\nLP1,A,B,2014-01-01\nLP2,A,B,2014-13-01\n")
    with pytest.raises(BenchFileError, match="line 3: dob"):
        read_store(path)
