"""`citywatch publish`, the part without Kafka: reading CSV / JSON lines and validating every row locally."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from citywatch.site_registry import Registry, load_registry
from services.publish.records import (
    InputError,
    Rejection,
    check_department,
    check_feed,
    file_format,
    read_rows,
    read_text,
    rejections_path,
    validate_rows,
    write_rejections,
)
from tools.cli import publish as publish_cli
from tools.devstack.config import REPO_ROOT

REGISTRY_FILE = REPO_ROOT / "registry/wujiang-sample.yaml"

AIR_CSV = (
    "station,observed_at,pm25,pm10,pm10_unit,co,co_unit,quality_flags\n"
    "wj-songling,2025-01-01T08:00:00+08:00,12.5,,,,,\n"  # 2: valid; empty cells are absent fields
    'wj-songling,2025-01-01T09:00:00+08:00,13,40,µg/m3,0.8,mg/m³,"{""pm25"": ""M""}"\n'  # 3: valid, all columns
    "wj-songling,2025-01-01T10:00:00+08:00,14,,,0.9,µg/m³,\n"  # 4: CO in the wrong unit
    "wj-nowhere,2025-01-01T10:00:00+08:00,14,,,,,\n"  # 5: a station the registry does not have
    "wj-songling,2025-01-01T11:00:00,15,,,,,\n"  # 6: no UTC offset
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(REGISTRY_FILE)


def errors_of(rejection: Rejection) -> dict[str, str]:
    return {e.field: e.reason for e in rejection.errors}


def test_csv_rows_are_validated_with_field_and_reason(registry: Registry) -> None:
    result = validate_rows(read_rows(AIR_CSV, "csv", "air"), "air", "environment", registry)
    assert [line for line, _ in result.accepted] == [2, 3]
    first, second = result.records
    assert first.model_dump(exclude_unset=True).keys() >= {"station", "observed_at", "pm25"}
    assert second.pm10 == 40 and second.pm10_unit == "µg/m³" and second.co == 0.8  # type: ignore[union-attr]
    assert second.quality_flags == {"pm25": "M"}  # type: ignore[union-attr]
    assert [r.line for r in result.rejected] == [4, 5, 6]
    unit, site, tz = (errors_of(r) for r in result.rejected)
    assert unit.keys() == {"co_unit"} and "mg/m³" in unit["co_unit"]
    assert site.keys() == {"station"} and "not in the site registry" in site["station"]
    assert tz.keys() == {"observed_at"} and "timezone" in tz["observed_at"]
    assert result.rejected[0].record == {
        "station": "wj-songling",
        "observed_at": "2025-01-01T10:00:00+08:00",
        "pm25": 14,
        "co": 0.9,
        "co_unit": "µg/m³",
    }


def test_empty_cells_are_absent_fields_and_required_ones_are_named(registry: Registry) -> None:
    text = "station,observed_at,pm25,event_id\nwj-songling,2025-01-01T08:00:00+08:00,,\n"
    result = validate_rows(read_rows(text, "csv", "air"), "air", "environment", registry)
    (rejection,) = result.rejected
    assert errors_of(rejection) == {"pm25": "Field required"}  # not "" and not a parse error
    assert rejection.record == {"station": "wj-songling", "observed_at": "2025-01-01T08:00:00+08:00"}


def test_a_byte_order_mark_and_crlf_lines_are_read(tmp_path: Path, registry: Registry) -> None:
    path = tmp_path / "air.csv"
    path.write_bytes("\ufeffstation,observed_at,pm25\r\nwj-songling,2025-01-01T08:00:00+08:00,12\r\n".encode())
    rows = read_rows(read_text(path), file_format(path), "air")
    assert [r.payload for r in rows] == [
        {"station": "wj-songling", "observed_at": "2025-01-01T08:00:00+08:00", "pm25": 12}
    ]
    assert not validate_rows(rows, "air", "environment", registry).rejected


def test_another_departments_site_is_rejected(registry: Registry) -> None:
    text = '{"plant": "wj-wte-phase2", "period": "day", "date": "2025-01-01", "waste_kind": "household", "received_tonnes": 900}\n'
    result = validate_rows(read_rows(text, "jsonl", "waste"), "waste", "environment", registry)
    (rejection,) = result.rejected
    assert errors_of(rejection) == {
        "plant": "site 'wj-wte-phase2' belongs to department 'urban-management'; 'environment' may not publish it"
    }
    ok = validate_rows(read_rows(text, "jsonl", "waste"), "waste", "urban-management", registry)
    assert len(ok.records) == 1 and not ok.rejected


def test_a_site_of_another_feed_is_rejected(registry: Registry) -> None:
    text = "station,observed_at,pm25\nwj-ws-fenhu,2025-01-01T08:00:00+08:00,12\n"  # a water section
    (rejection,) = validate_rows(read_rows(text, "csv", "air"), "air", "environment", registry).rejected
    assert errors_of(rejection) == {"station": "unknown air site 'wj-ws-fenhu'; it is not in the site registry"}


def test_json_lines_bad_lines_are_rejections_not_crashes(registry: Registry) -> None:
    text = "\n".join(
        [
            '{"station": "wj-songling", "observed_at": "2025-01-01T08:00:00+08:00", "pm25": 12}',
            "",  # blank: skipped
            "{not json",
            "[1, 2]",
            '{"station": "wj-songling", "observed_at": "2025-01-01T09:00:00+08:00", "pm25": "NaN"}',
            '{"station": "wj-songling", "observed_at": "2025-01-01T10:00:00+08:00", "pm25": 1, "colour": "red"}',
            '{"station": "wj-songling", "observed_at": "2025-01-01T11:00:00+08:00", "pm25": 1, "note": "a\u2028b"}',
        ]
    )
    result = validate_rows(read_rows(text, "jsonl", "air"), "air", "environment", registry)
    assert [line for line, _ in result.accepted] == [1]
    by_line = {r.line: errors_of(r) for r in result.rejected}
    assert by_line.keys() == {3, 4, 5, 6, 7}  # U+2028 inside a string does not split a line
    assert "not valid JSON" in by_line[3]["(line)"]
    assert "one JSON object" in by_line[4]["(line)"]
    assert by_line[5].keys() == {"pm25"}
    assert by_line[6] == {"colour": "Extra inputs are not permitted (got 'red')"}
    assert result.rejected[0].record == "{not json"


def test_csv_with_more_cells_than_columns_names_the_line(registry: Registry) -> None:
    text = "station,observed_at,pm25\nwj-songling,2025-01-01T08:00:00+08:00,12,oops\n"
    (rejection,) = validate_rows(read_rows(text, "csv", "air"), "air", "environment", registry).rejected
    assert rejection.line == 2 and "more cell" in errors_of(rejection)["(line)"]


def test_csv_line_numbers_count_quoted_newlines(registry: Registry) -> None:
    text = 'station,observed_at,pm25,event_id\nwj-songling,2025-01-01T08:00:00+08:00,12,"a\nb"\nwj-x,bad,1,\n'
    rows = read_rows(text, "csv", "air")
    assert [r.line for r in rows] == [2, 4]
    assert rows[1].raw == "wj-x,bad,1,"


def test_water_and_bus_csv_cells_get_their_types(registry: Registry) -> None:
    water = (
        "section,sampled_at,kind,method,pH,NH3N,unit\nwj-ws-fenhu,2025-01-01T08:00:00+08:00,lake,manual,7.2,0.4,mg/L\n"
    )
    assert len(validate_rows(read_rows(water, "csv", "water"), "water", "environment", registry).records) == 1
    bus = (
        "route,interval_start,interval_end,boardings,vehicle,energy_type,schema_version,revision\n"
        "wj-bus-701,2025-01-02T07:00:00+08:00,2025-01-02T08:00:00+08:00,120,wj-v-701-01,electric,1,2\n"
    )
    (record,) = validate_rows(read_rows(bus, "csv", "bus"), "bus", "transport", registry).records
    assert record.revision == 2


def test_usage_errors() -> None:
    with pytest.raises(InputError, match="unknown feed 'noise'"):
        check_feed("noise")
    with pytest.raises(InputError, match="--format"):
        file_format(Path("readings.txt"))
    assert file_format(Path("readings.txt"), "csv") == "csv"
    assert file_format(Path("r.NDJSON")) == "jsonl"
    with pytest.raises(InputError, match="header row names a column more than once: pm25"):
        read_rows("station,pm25,pm25\n", "csv", "air")
    with pytest.raises(InputError, match="cannot read"):
        read_text(Path("/nonexistent/readings.csv"))
    registry = load_registry(REGISTRY_FILE)
    with pytest.raises(InputError, match="does not publish the air feed"):
        check_department(registry, "transport", "air")
    with pytest.raises(InputError, match="unknown department 'police'"):
        check_department(registry, "police", "air")


def test_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("station,observed_at,pm25\n松陵,x,1\n".encode("gbk"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_text(path)


def test_rejections_file_sits_beside_the_input_and_a_clean_run_removes_it(tmp_path: Path, registry: Registry) -> None:
    path = tmp_path / "air.csv"
    result = validate_rows(read_rows(AIR_CSV, "csv", "air"), "air", "environment", registry)
    written = write_rejections(path, result.rejected)
    assert written == rejections_path(path) == tmp_path / "air.csv.rejected.jsonl"
    lines = [json.loads(line) for line in written.read_text(encoding="utf-8").splitlines()]
    assert [line["line"] for line in lines] == [4, 5, 6]
    assert lines[0]["errors"][0]["field"] == "co_unit" and lines[0]["errors"][0]["reason"]
    assert write_rejections(path, []) is None and not written.exists()


# --- the command, up to the point where it would need Kafka ------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer()
    publish_cli.register(app)
    app.command("noop", hidden=True)(lambda: None)  # with two commands, `publish` is invoked by name
    return app


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    if "--password-env" not in args:
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps({"environment": "pw", "transport": "pw"}))
        args = (*args, "--credentials-file", str(creds))
    result = CliRunner().invoke(cli(), ["publish", *args, "--registry", str(REGISTRY_FILE)])
    return result.exit_code, result.output


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "air.csv"
    path.write_text(AIR_CSV)
    code, output = run(tmp_path, str(path), "--feed", "noise", "--department", "environment")
    assert code == 2 and "unknown feed 'noise'" in output
    code, output = run(tmp_path, str(tmp_path / "missing.csv"), "--feed", "air", "--department", "environment")
    assert code == 2 and "cannot read" in output
    code, output = run(tmp_path, str(path), "--feed", "air", "--department", "transport")
    assert code == 2 and "does not publish the air feed" in output
    code, output = run(
        tmp_path, str(path), "--feed", "air", "--department", "environment", "--password-env", "NO_SUCH_VAR_X"
    )
    assert code == 2 and "NO_SUCH_VAR_X" in output
    code, output = run(tmp_path, str(path), "--feed", "air", "--department", "environment", "--format", "xml")
    assert code == 2 and "unknown format 'xml'" in output


def test_cli_all_rejected_exits_1_without_touching_kafka(tmp_path: Path) -> None:
    path = tmp_path / "air.jsonl"
    path.write_text('{"station": "wj-songling", "observed_at": "2025-01-01T08:00:00", "pm25": 1}\n')
    # The bootstrap points nowhere: with nothing valid to publish the broker is never contacted.
    code, output = run(
        tmp_path, str(path), "--feed", "air", "--department", "environment", "--bootstrap", "127.0.0.1:1"
    )
    assert code == 1, output
    assert "accepted: 0" in output and "rejected: 1" in output
    assert str(rejections_path(path)) in output.replace("\n", "")
    (line,) = rejections_path(path).read_text().splitlines()
    assert json.loads(line)["errors"][0]["field"] == "observed_at"
