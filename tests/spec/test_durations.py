import pytest

from sloguard.spec.durations import format_seconds, parse_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300),
        ("1h30m", 5400),
        ("30d", 2592000),
        ("4w", 2419200),
        ("300ms", 0.3),
        ("1y", 31536000),
        ("90s", 90),
    ],
)
def test_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "m5", "5 m", "1.5h", "0m", "-1h", "5M"])
def test_malformed_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_seconds(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(300, "5m"), (5400, "1h30m"), (2592000, "30d"), (90061, "1d1h1m1s")]
)
def test_durations_print_in_the_shortest_form(seconds: int, text: str) -> None:
    assert format_seconds(seconds) == text
    assert parse_seconds(text) == seconds


def test_zero_duration_cannot_be_printed() -> None:
    with pytest.raises(ValueError):
        format_seconds(0)
