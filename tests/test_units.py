"""The one parser of human-written quantities (`gcc_gan.units`) and the three tables over it."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from gcc_gan.compiler.cost import COUNT, TIME_MS, parse_count, parse_ms
from gcc_gan.errors import GccGanError
from gcc_gan.genotype_dsl.memory import ENV, SIZE, memory_limit, parse_size
from gcc_gan.units import QuantityError, Units

TEST = Units("widget", "3w or 2kw", {"": 1, "w": 10, "kw": 10**4, "mw": Decimal("0.5")})


@pytest.mark.parametrize("text, value", [
    ("7", 7), ("3w", 30), ("2kw", 20_000), ("4mw", 2),  # each suffix, and none
    ("3W", 30), ("2KW", 20_000), ("2kW", 20_000),  # any case
    (" 3 w ", 30), ("\t2\tkw\n", 20_000),  # spaces around and between
    ("1.5w", 15), ("1.5kw", 15_000), (".5w", 5), ("5.w", 50), ("+2w", 20),  # decimals, a plus sign
])
def test_valid(text: str, value: int) -> None:
    assert TEST.value(text, "--widgets") == value


@pytest.mark.parametrize("text, match", [
    ("", "expected a widget such as 3w or 2kw; suffixes w, kw, mw in any case"),
    ("   ", "expected a widget"),
    ("w", "expected a widget"),
    ("lots", "expected a widget"),
    ("3lots", "unknown suffix 'lots'; expected a widget such as 3w or 2kw; suffixes w, kw, mw in any case"),
    ("3 parsecs", "unknown suffix 'parsecs'"),
    ("3ww", "unknown suffix 'ww'"),
    ("-3w", "must be positive"), ("-1", "must be positive"), ("0", "must be positive"), ("0.0kw", "must be positive"),
    ("nan", "expected a widget"), ("inf", "expected a widget"), ("-inf", "expected a widget"), ("infw", "expected"),
    ("1e3", "expected a widget"),  # no exponent unless the table allows one
    ("1.2.3w", "expected"), ("3 w w", "expected"), ("3,5w", "expected"), ("0x10", "expected"),
    ("١٢w", "expected"),  # digits are ASCII only
    ("10" * 10 + "w", "too large"),
])
def test_invalid(text: str, match: str) -> None:
    with pytest.raises(QuantityError, match=re.escape(f"--widgets {text!r}: ") + match):
        TEST.value(text, "--widgets")


def test_errors_are_gcc_gan_errors_and_value_errors() -> None:
    # GccGanError: the CLI prints it (exit 1); ValueError: what option callbacks catch.
    with pytest.raises(GccGanError):
        TEST.value("lots", "--widgets")
    with pytest.raises(ValueError, match=r"^'lots': "):  # without a flag the text leads the message
        TEST.value("lots")


def test_suffixes_that_differ_only_in_case_are_refused() -> None:
    with pytest.raises(ValueError, match="differ only in case"):
        Units("thing", "1m", {"m": 1, "M": 2})


@pytest.mark.parametrize("units, text, value", [
    (COUNT, "800M", 800_000_000), (COUNT, "800m", 800_000_000), (COUNT, "1.5G", 1_500_000_000),
    (COUNT, "2k", 2000), (COUNT, "1T", 10**12), (COUNT, "1e6", 10**6), (COUNT, "2.5E3", 2500),
    (COUNT, "4.1G", 4_100_000_000), (COUNT, "1.001k", 1001),  # exact: binary floats gave 4099999999 and 1000
    (COUNT, "1.5", 1),  # a fractional count rounds down
    (SIZE, "8GB", 8 * 10**9), (SIZE, "1.5GiB", 3 * 2**29), (SIZE, "2 kB", 2000), (SIZE, "3b", 3),
    (SIZE, "1KiB", 1024), (SIZE, "1mib", 2**20), (SIZE, "1TiB", 2**40), (SIZE, "2g", 2 * 10**9),
])
def test_whole_quantities(units: Units, text: str, value: int) -> None:
    got = units.parse_int(text, "--x")
    assert got == value and type(got) is int


@pytest.mark.parametrize("units, text", [(COUNT, "0.5"), (COUNT, "1e-3"), (SIZE, "0.5B"), (SIZE, "0.0005kB")])
def test_whole_quantities_below_one_are_refused(units: Units, text: str) -> None:
    # they used to pass as 0 (positive before rounding down)
    with pytest.raises(QuantityError, match=re.escape(f"--x {text!r}: must be at least 1")):
        units.parse_int(text, "--x")


@pytest.mark.parametrize("text, ms", [("5ms", 5.0), ("5", 5.0), ("0.5s", 500.0), ("200us", 0.2), ("2 MS", 2.0),
                                      ("1.5S", 1500.0)])
def test_times(text: str, ms: float) -> None:
    assert TIME_MS.parse_float(text, "--max-latency") == ms


def test_public_parsers_keep_their_contracts() -> None:
    assert parse_count(None, "--max-macs") is None and parse_ms(None, "--max-latency") is None
    assert parse_count("3M", "--max-params") == 3_000_000 and parse_ms("0.5s", "x") == 500.0
    with pytest.raises(GccGanError, match=r"^--max-macs '5 parsecs': unknown suffix 'parsecs'; expected a count "
                                          r"such as 800M, 3M, 1.5G or 12000; suffixes k, M, G, T in any case$"):
        parse_count("5 parsecs", "--max-macs")
    with pytest.raises(GccGanError, match=r"^--max-latency 'fast': expected a time .*suffixes ms, s, us"):
        parse_ms("fast", "--max-latency")
    with pytest.raises(ValueError, match=r"^'8XB': unknown suffix 'XB'; expected a size such as 8GB"):
        parse_size("8XB")
    with pytest.raises(GccGanError, match=r"^\$GCC_GAN_MAX_MEMORY '1e3': expected a size"):
        parse_size("1e3", "$GCC_GAN_MAX_MEMORY")


def test_scientific_extremes_stay_errors() -> None:
    with pytest.raises(QuantityError, match="too small"):
        COUNT.parse_int("1e-99999", "--max-macs")
    with pytest.raises(QuantityError, match="too large"):
        COUNT.parse_int("1e99999", "--max-macs")


def test_memory_limit_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "1.5 GiB")
    assert memory_limit() == 3 * 2**29
    monkeypatch.setenv(ENV, "2XB")
    with pytest.raises(GccGanError, match=re.escape(f"${ENV} '2XB': unknown suffix 'XB'")):
        memory_limit()
